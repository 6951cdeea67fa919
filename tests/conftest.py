"""Shared pytest set-up: the property-based tests' budgets.

``hypothesis`` runs each property test on generated inputs. Two profiles: ``ci`` (the default: few examples,
no deadline, so the whole suite stays within CI's time budget on 2 cores) and ``long`` (for a local hunt:
``HYPOTHESIS_PROFILE=long python -m pytest tests -k property``).
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("long", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
