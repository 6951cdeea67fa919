"""minigan.utils.data: torch.utils.data's names, batches and order semantics (not its random numbers)
compared with PyTorch's; the loader resumes exactly under fit like minigan.data.DataLoader."""

import collections

import numpy as np
import pytest

import minigan as mg
import minigan.utils.data as data
from minigan.utils.data import DataLoader, Subset, TensorDataset, default_collate, random_split

torch = pytest.importorskip("torch")
tdata = torch.utils.data


def as_numpy(batch):
    """A nested batch (either library's) with every tensor as a NumPy array."""
    if isinstance(batch, (mg.Tensor, torch.Tensor)):
        return batch.numpy()
    if isinstance(batch, dict):
        return {key: as_numpy(value) for key, value in batch.items()}
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return type(batch)(*(as_numpy(value) for value in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(as_numpy(value) for value in batch)
    return batch


def assert_batches_equal(ours, theirs):
    ours, theirs = as_numpy(ours), as_numpy(theirs)
    assert type(ours) is type(theirs)
    if isinstance(theirs, np.ndarray):
        assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
        np.testing.assert_array_equal(ours, theirs)
    elif isinstance(theirs, dict):
        assert list(ours) == list(theirs)
        for key in theirs:
            assert_batches_equal(ours[key], theirs[key])
    elif isinstance(theirs, (list, tuple)):
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            assert_batches_equal(a, b)
    else:
        assert ours == theirs


X = np.arange(7 * 3, dtype=np.float32).reshape(7, 3)
Y = np.arange(7, dtype=np.int64) % 3


@pytest.mark.parametrize("batch_size, drop_last", [(1, False), (2, False), (3, True), (7, False), (10, False)])
def test_a_tensor_dataset_in_order_gives_pytorchs_batches(batch_size, drop_last):
    ours = DataLoader(TensorDataset(mg.tensor(X), mg.tensor(Y)), batch_size=batch_size, drop_last=drop_last)
    theirs = tdata.DataLoader(
        tdata.TensorDataset(torch.tensor(X), torch.tensor(Y)), batch_size=batch_size, drop_last=drop_last
    )
    assert len(ours) == len(theirs)
    assert_batches_equal(list(ours), list(theirs))


Point = collections.namedtuple("Point", "x y")


class Pairs(data.Dataset):
    """A map-style data set of dict samples, defined the same way for either library."""

    def __init__(self, size):
        self.size = size

    def __len__(self):
        return self.size

    def __getitem__(self, i):
        return {
            "image": np.full((2, 2), i, dtype=np.float64),
            "label": i % 2,
            "weight": 0.5 * i,
            "flag": i > 2,
            "name": f"sample{i}",
            "point": Point(i, float(i)),
            "pair": (i, [i, -i]),
        }


class TorchPairs(tdata.Dataset):
    def __init__(self, size):
        self.inner = Pairs(size)

    def __len__(self):
        return len(self.inner)

    def __getitem__(self, i):
        return self.inner[i]


def test_default_collate_of_dicts_numbers_strings_and_tuples_matches_pytorchs():
    ours, theirs = DataLoader(Pairs(5), batch_size=2), tdata.DataLoader(TorchPairs(5), batch_size=2)
    assert_batches_equal(list(ours), list(theirs))
    samples = [Pairs(4)[i] for i in range(4)]
    assert_batches_equal(default_collate(samples), tdata.default_collate(samples))
    tensors = [mg.tensor([1.0, 2.0]), mg.tensor([3.0, 4.0])]
    assert_batches_equal(
        default_collate(tensors), tdata.default_collate([torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0])])
    )
    with pytest.raises(TypeError, match="default_collate: a batch must hold .*; found NoneType"):
        default_collate([None, None])


def test_shuffling_gives_a_fresh_permutation_each_epoch_with_pytorchs_batch_sizes():
    mg.manual_seed(0)
    dataset = TensorDataset(mg.arange(10), mg.arange(10) * 2)
    loader = DataLoader(dataset, batch_size=4, shuffle=True)
    reference = tdata.DataLoader(tdata.TensorDataset(torch.arange(10)), batch_size=4, shuffle=True)
    epochs = []
    for _ in range(3):
        batches = list(loader)
        assert [len(b[0]) for b in batches] == [len(b[0]) for b in reference] == [4, 4, 2]
        order = np.concatenate([b[0].numpy() for b in batches])
        assert sorted(order.tolist()) == list(range(10))
        np.testing.assert_array_equal(np.concatenate([b[1].numpy() for b in batches]), order * 2)  # rows stay aligned
        epochs.append(order.tolist())
    assert epochs[0] != epochs[1] or epochs[1] != epochs[2]
    mg.manual_seed(0)  # reproducible under mg.manual_seed, as torch's
    again = DataLoader(dataset, batch_size=4, shuffle=True)
    assert np.concatenate([b[0].numpy() for b in again]).tolist() == epochs[0]
    seeded = [
        list(DataLoader(dataset, batch_size=10, shuffle=True, generator=7))[0][0].numpy().tolist() for _ in range(2)
    ]
    assert seeded[0] == seeded[1]
    rng = np.random.default_rng(3)
    assert DataLoader(dataset, shuffle=True, generator=rng).rng is rng


def test_a_custom_collate_fn_receives_the_list_of_samples():
    seen = []
    loader = DataLoader(Pairs(3), batch_size=2, collate_fn=lambda samples: seen.append(samples) or len(samples))
    assert list(loader) == [2, 1]
    assert [s["label"] for s in seen[0]] == [0, 1]


def test_random_split_lengths_and_subsets_follow_pytorch():
    dataset = TensorDataset(mg.arange(10))
    for lengths in ([3, 7], [0.3, 0.7], [0.25, 0.25, 0.5], [1 / 3] * 3, [10, 0]):
        ours = random_split(dataset, lengths, generator=0)
        theirs = tdata.random_split(tdata.TensorDataset(torch.arange(10)), lengths)
        assert [len(s) for s in ours] == [len(s) for s in theirs]
        picked = sorted(int(s[i][0].item()) for s in ours for i in range(len(s)))
        assert picked == list(range(10))  # disjoint, covering everything
    with pytest.raises(
        ValueError,
        match="random_split: lengths must be counts >= 0 summing to the data set's "
        r"length 10, or fractions summing to 1; got \[3, 3\]",
    ):
        random_split(dataset, [3, 3])
    subset = Subset(dataset, [4, 1, 1])
    their_subset = tdata.Subset(tdata.TensorDataset(torch.arange(10)), [4, 1, 1])
    assert_batches_equal(list(DataLoader(subset, batch_size=2)), list(tdata.DataLoader(their_subset, batch_size=2)))


def test_what_minigan_does_not_provide_is_refused_by_name():
    dataset = TensorDataset(mg.arange(4))
    with pytest.raises(NotImplementedError, match="DataLoader: sampler is not provided"):
        DataLoader(dataset, sampler=[0, 1])
    with pytest.raises(TypeError, match="generator must be None, a seed .* got Generator"):
        DataLoader(dataset, shuffle=True, generator=torch.Generator())
    with pytest.raises(ValueError, match="TensorDataset: every tensor needs the same first"):
        TensorDataset(mg.arange(3), mg.arange(4))
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        DataLoader(dataset, batch_size=0)
    assert [b[0].numpy().tolist() for b in DataLoader(dataset, batch_size=3, num_workers=2, pin_memory=True)] == [
        [0, 1, 2],
        [3],
    ]


def test_the_import_forms_of_ported_scripts_work():
    import minigan.utils.data as by_module
    from minigan.utils import data as by_package

    assert by_module is by_package is data and by_module.DataLoader is DataLoader


def test_a_run_over_a_shuffled_utils_loader_resumes_exactly(tmp_path):
    from minigan import nn, optim
    from minigan.training import fit

    class Regression:
        def __init__(self):
            mg.manual_seed(0)
            self.model = nn.Linear(3, 1)
            self.optimizer = optim.SGD(self.model.parameters(), lr=0.1)

        def config(self):
            return {"family": "regression"}

        def train_step(self, batch):
            x, y = batch
            self.optimizer.zero_grad()
            loss = ((self.model(x)[:, 0] - y) ** 2).mean()
            loss.backward()
            self.optimizer.step()
            return {"loss": loss.item()}

        def state_dict(self):
            return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict()}

        def load_state_dict(self, state):
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])

    x = np.random.default_rng(0).standard_normal((20, 3)).astype(np.float32)
    y = x.sum(1)

    def loader():
        return DataLoader(TensorDataset(mg.tensor(x), mg.tensor(y)), batch_size=4, shuffle=True, generator=5)

    straight = Regression()
    fit(straight, loader(), epochs=3, out_dir=str(tmp_path / "straight"), checkpoint_every=2, sample_epochs=())
    halves = Regression()
    fit(halves, loader(), epochs=1, out_dir=str(tmp_path / "halves"), checkpoint_every=2, sample_epochs=())
    halves = Regression()
    fit(halves, loader(), epochs=3, out_dir=str(tmp_path / "halves"), checkpoint_every=2, resume=True, sample_epochs=())
    for key, value in straight.model.state_dict().items():
        assert halves.model.state_dict()[key].numpy().tobytes() == value.numpy().tobytes()
