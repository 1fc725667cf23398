"""Dataset registry: bundled datasets, users' arrays/npz files, and their errors."""

import subprocess
import sys

import numpy as np
import pytest

from tfsnn import datasets
from tfsnn.datasets import (
    Dataset,
    check_images,
    describe_datasets,
    load_dataset,
    register_dataset,
    registered_datasets,
)


def _assert_clean(ds: Dataset, shape):
    assert ds.input_shape == shape
    for x, y in ((ds.x_train, ds.y_train), (ds.x_test, ds.y_test)):
        assert x.dtype == np.float32 and x.shape[1:] == shape
        assert y.dtype == np.int64 and y.ndim == 1 and len(y) == len(x)
        assert 0.0 <= x.min() and x.max() <= 1.0
        assert set(np.unique(y)) <= set(range(ds.num_classes))


def test_digits_shapes_split_and_determinism():
    ds = load_dataset("digits")
    _assert_clean(ds, (8, 8, 1))
    assert (len(ds.x_train), len(ds.x_test), ds.num_classes) == (1437, 360, 10)
    assert ds.x_train.max() == 1.0  # 16/16
    # values are multiples of 1/16
    np.testing.assert_allclose(ds.x_train * 16, np.round(ds.x_train * 16), atol=1e-5)
    # stratified: every class 35..37 times in the test set
    assert np.bincount(ds.y_test).min() >= 35
    again = load_dataset("digits")
    np.testing.assert_array_equal(ds.x_train, again.x_train)
    np.testing.assert_array_equal(ds.y_test, again.y_test)
    # fresh arrays each call: mutating one does not touch the next load
    ds.x_train[:] = 0
    assert load_dataset("digits").x_train.max() == 1.0


def test_mnist5k_real_images():
    ds = load_dataset("mnist5k")
    _assert_clean(ds, (28, 28, 1))
    assert (len(ds.x_train), len(ds.x_test), ds.num_classes) == (4000, 1000, 10)
    np.testing.assert_array_equal(np.bincount(ds.y_test), [100] * 10)
    np.testing.assert_array_equal(np.bincount(ds.y_train), [400] * 10)
    # real MNIST: 8-bit pixels, mostly background, digit strokes in the middle
    np.testing.assert_allclose(ds.x_train * 255, np.round(ds.x_train * 255), atol=1e-3)
    assert 0.08 < ds.x_train.mean() < 0.2
    assert ds.x_train[:, :2].mean() < 0.01 < 0.3 < ds.x_train[:, 10:18, 10:18].mean()
    # labels belong to the images: a nearest-class-mean classifier works (~0.8 on MNIST)
    means = np.stack([ds.x_train[ds.y_train == c].mean(0).ravel() for c in range(10)])
    dists = ((ds.x_test.reshape(1000, 1, -1) - means[None]) ** 2).sum(-1)
    assert (dists.argmin(1) == ds.y_test).mean() > 0.7
    again = load_dataset("mnist5k")
    np.testing.assert_array_equal(ds.x_test, again.x_test)
    np.testing.assert_array_equal(ds.y_train, again.y_train)


def test_subset_is_first_n_and_checked():
    ds = load_dataset("digits")
    sub = ds.subset(100, 20)
    assert (len(sub.x_train), len(sub.y_test)) == (100, 20)
    np.testing.assert_array_equal(sub.x_train, ds.x_train[:100])
    np.testing.assert_array_equal(sub.y_test, ds.y_test[:20])
    assert sub.input_shape == ds.input_shape and sub.num_classes == 10
    assert len(ds.subset(n_test=5).x_train) == 1437
    small = load_dataset("digits", n_train=50, n_test=10)
    np.testing.assert_array_equal(small.y_train, ds.y_train[:50])
    with pytest.raises(ValueError, match="n_test=1000 but the dataset has only 360"):
        ds.subset(n_test=1000)
    with pytest.raises(ValueError, match="positive integer"):
        ds.subset(n_train=0)
    assert "digits" in repr(ds) and "1437" in repr(ds)


def test_user_tuple_uint8_and_one_hot():
    rng = np.random.default_rng(0)
    x_tr = rng.integers(0, 256, (20, 6, 5), dtype=np.uint8)
    x_te = rng.integers(0, 256, (8, 6, 5), dtype=np.uint8)
    y_tr = np.eye(3)[rng.integers(0, 3, 20)]
    y_te = rng.integers(0, 3, (8, 1))
    ds = load_dataset((x_tr, y_tr, x_te, y_te))
    _assert_clean(ds, (6, 5, 1))
    np.testing.assert_allclose(ds.x_train[..., 0], x_tr / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(ds.y_train, y_tr.argmax(1))
    np.testing.assert_array_equal(ds.y_test, y_te[:, 0])
    assert ds.num_classes == 3 and ds.name == "user"


def test_user_dict_features_stay_2d():
    rng = np.random.default_rng(1)
    data = {"x_train": rng.random((30, 7)), "y_train": np.arange(30) % 4,
            "x_test": rng.random((10, 7)), "y_test": np.arange(10) % 4}
    ds = load_dataset(data, name="feat")
    _assert_clean(ds, (7,))
    assert ds.name == "feat" and ds.num_classes == 4
    assert load_dataset(data, num_classes=6).num_classes == 6
    with pytest.raises(ValueError, match="labels go up to 3 but num_classes=2"):
        load_dataset(data, num_classes=2)


def test_npz_split_and_xy(tmp_path):
    rng = np.random.default_rng(2)
    p = tmp_path / "mine.npz"
    np.savez(p, x_train=rng.random((12, 4, 4, 3)), y_train=np.arange(12) % 3,
             x_test=rng.random((6, 4, 4, 3)), y_test=np.arange(6) % 3)
    ds = load_dataset(str(p))
    _assert_clean(ds, (4, 4, 3))
    assert ds.name == "mine" and len(ds.x_test) == 6
    assert load_dataset(p).num_classes == 3  # pathlib.Path works too

    q = tmp_path / "xy.npz"
    np.savez(q, x=rng.integers(0, 256, (50, 5, 5), dtype=np.uint8), y=np.arange(50) % 5)
    a = load_dataset(q, test_fraction=0.2)
    assert (len(a.x_train), len(a.x_test)) == (40, 10)
    np.testing.assert_array_equal(np.bincount(a.y_test), [2] * 5)  # stratified
    b = load_dataset(q, test_fraction=0.2)
    np.testing.assert_array_equal(a.x_test, b.x_test)
    assert len(load_dataset(q, test_fraction=0.3).x_test) == 15
    assert len(load_dataset(q).x_test) == 10  # default 0.2


def test_check_images_names_count_and_place():
    x = np.zeros((4, 3), np.float32)
    assert check_images(x) is x
    x[0, 0], x[1, 1], x[2, 2] = np.nan, np.nan, np.inf
    with pytest.raises(ValueError, match=r"spikes data .*2 NaN and 1 inf"):
        check_images(x, where="spikes")
    check_images(np.zeros(3, np.uint8))  # integers cannot hold NaN


@pytest.mark.parametrize("where", ["train", "test"])
def test_nan_in_user_data_is_reported(where):
    x_tr, x_te = np.zeros((5, 3)), np.zeros((4, 3))
    (x_tr if where == "train" else x_te)[1, :2] = np.nan
    with pytest.raises(ValueError, match=rf"{where} data contains non-finite values: 2 NaN"):
        load_dataset((x_tr, np.zeros(5), x_te, np.zeros(4)))


def test_float_out_of_range_suggests_scaling():
    x = np.full((5, 3), 255.0)
    with pytest.raises(ValueError, match=r"values in \[255, 255\].*x / 255"):
        load_dataset((x, np.zeros(5), x, np.zeros(5)))
    with pytest.raises(ValueError, match=r"x_test .*\[-1, 1\]"):
        load_dataset((np.ones((2, 3)), np.zeros(2), -np.ones((2, 3)) + [0, 2, 0], np.zeros(2)))


def test_array_errors():
    x, y = np.zeros((5, 3)), np.zeros(5)
    with pytest.raises(ValueError, match="x_train has 5 samples but y_train has 4"):
        load_dataset((x, y[:4], x, y))
    with pytest.raises(ValueError, match="x_test has 5 samples but y_test has 3"):
        load_dataset((x, y, x, y[:3]))
    with pytest.raises(ValueError, match="differ in shape"):
        load_dataset((x, y, np.zeros((5, 4)), y))
    with pytest.raises(ValueError, match="not one-hot"):
        load_dataset((x, np.full((5, 2), 0.5), x, y))
    with pytest.raises(ValueError, match="negative labels"):
        load_dataset((x, -np.ones(5), x, y))
    with pytest.raises(ValueError, match=r"supported are \(N, F\)"):
        load_dataset((np.zeros(5), y, np.zeros(5), y))
    with pytest.raises(ValueError, match="tuple must be"):
        load_dataset((x, y, x))
    with pytest.raises(ValueError, match="test_fraction applies only"):
        load_dataset((x, y, x, y), test_fraction=0.5)


def test_unknown_name_lists_registered():
    with pytest.raises(ValueError, match="unknown dataset 'mnsit'.*digits.*mnist5k"):
        load_dataset("mnsit")
    with pytest.raises(ValueError, match="does not accept"):
        load_dataset("digits", color=True)


def test_missing_file_and_missing_keys(tmp_path):
    missing = tmp_path / "nope.npz"
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        load_dataset(str(missing))
    p = tmp_path / "partial.npz"
    np.savez(p, x_train=np.zeros((2, 3)), y_train=np.zeros(2), x_test=np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"missing key\(s\) y_test"):
        load_dataset(p)
    q = tmp_path / "other.npz"
    np.savez(q, images=np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"no usable keys.*\['images'\]"):
        load_dataset(q)
    r = tmp_path / "only_x.npz"
    np.savez(r, x=np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"missing key\(s\) y\b"):
        load_dataset(r)


def test_register_and_describe(monkeypatch):
    monkeypatch.setattr(datasets, "_REGISTRY", dict(datasets._REGISTRY))
    rng = np.random.default_rng(3)

    def toy(size=10):
        return (rng.random((size, 2)), np.arange(size) % 2, rng.random((4, 2)), np.arange(4) % 2)

    register_dataset("toy", toy, "two random features")
    assert "toy" in registered_datasets()
    assert len(load_dataset("toy", size=6).x_train) == 6
    assert load_dataset("toy").name == "toy"
    with pytest.raises(ValueError, match="already registered"):
        register_dataset("toy", toy)
    table = describe_datasets()
    lines = table.splitlines()
    assert lines[0].split() == ["name", "offline", "description"]
    row = {ln.split()[0]: ln.split()[1] for ln in lines[2:]}
    assert row["toy"] == "yes" and row["digits"] == "yes" and row["mnist5k"] == "yes"
    assert row["mnist"] == "no" and row["cifar10"] == "no" and row["fashion_mnist"] == "no"


def test_import_loads_nothing_heavy():
    code = ("import sys, tfsnn.datasets as d; "
            "assert 'keras' not in sys.modules and 'sklearn' not in sys.modules, "
            "sorted(m for m in sys.modules if m.startswith(('keras', 'sklearn')))")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_keras_datasets_loaded_only_on_request(monkeypatch):
    import keras

    calls = []

    def fake(module, shape, n):
        def load_data():
            calls.append(module)
            x = np.full((n,) + shape, 255, np.uint8)
            y = (np.arange(n) % 10).astype(np.uint8)
            if module == "cifar10":
                y = y[:, None]  # keras' CIFAR labels are (N, 1)
            return (x, y), (x[:3], y[:3])
        return load_data

    monkeypatch.setattr(keras.datasets.mnist, "load_data", fake("mnist", (28, 28), 12))
    monkeypatch.setattr(keras.datasets.cifar10, "load_data", fake("cifar10", (32, 32, 3), 12))
    describe_datasets()
    load_dataset("digits")
    assert calls == []
    m = load_dataset("mnist")
    assert calls == ["mnist"]
    _assert_clean(m, (28, 28, 1))
    assert m.x_train.max() == 1.0 and m.name == "mnist"
    c = load_dataset("cifar10", n_test=2)
    assert calls == ["mnist", "cifar10"]
    _assert_clean(c, (32, 32, 3))
    assert c.y_train.shape == (12,) and len(c.x_test) == 2


def test_cifar10_from_a_local_npz_without_download(tmp_path, monkeypatch):
    import keras

    def no_download():
        raise AssertionError("must not download")

    monkeypatch.setattr(keras.datasets.cifar10, "load_data", no_download)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (6, 32, 32, 3), dtype=np.uint8)
    y = (np.arange(6) % 10).astype(np.uint8)[:, None]  # keras' (N, 1) CIFAR labels
    path = tmp_path / "c10.npz"
    np.savez(path, x_train=x, y_train=y, x_test=x[:2], y_test=y[:2])
    c = load_dataset("cifar10", path=path, n_train=4)
    _assert_clean(c, (32, 32, 3))
    assert c.name == "cifar10" and c.num_classes == 10 and len(c.x_train) == 4
    np.testing.assert_allclose(c.x_train, x[:4] / np.float32(255), rtol=0, atol=1e-7)
    assert c.y_test.tolist() == [0, 1]
    np.savez(path, x_train=x[..., :1], y_train=y, x_test=x[:2, ..., :1], y_test=y[:2])
    with pytest.raises(ValueError, match=r"'cifar10' has \(32, 32, 3\) samples.*\(32, 32, 1\)"):
        load_dataset("cifar10", path=path)
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        load_dataset("cifar10", path=tmp_path / "missing.npz")
