"""``minigan.utils``: PyTorch's ``torch.utils`` names that ported scripts import (``minigan.utils.data``)."""
