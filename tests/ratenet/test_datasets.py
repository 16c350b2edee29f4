"""Specifications of ratenet.datasets: toy sets, digits, MNIST-1D, IDX files, Standardizer."""

from __future__ import annotations

import gzip
import random
import struct

import numpy as np
import pytest

from ratenet import datasets

# --------------------------------------------------------------------------- toy sets

def test_xor_and_or_are_the_truth_tables():
    X, y = datasets.xor()
    assert X.shape == (4, 2) and y.shape == (4,)
    np.testing.assert_array_equal(y, np.logical_xor(X[:, 0], X[:, 1]).astype(int))
    X, y = datasets.logical_or()
    assert X.shape == (4, 2) and y.shape == (4,)
    np.testing.assert_array_equal(y, np.logical_or(X[:, 0], X[:, 1]).astype(int))


def test_noisy_line_scatters_around_the_notes_line():
    X, y = datasets.noisy_line(n_points=2000, noise=0.2, seed=0)
    assert X.shape == (2000, 1) and y.shape == (2000,)
    assert X.min() >= -5 and X.max() < 5
    # Least squares on 2000 points: the slope's standard error is 0.2 / (std(x) sqrt(n)) ~ 1.5e-3,
    # so 0.01 is more than 6 standard errors.
    slope, intercept = np.polyfit(X[:, 0], y, 1)
    assert slope == pytest.approx(0.4, abs=0.01)
    assert intercept == pytest.approx(-0.9, abs=0.02)
    residual = y - (0.4 * X[:, 0] - 0.9)
    assert residual.std() == pytest.approx(0.2, rel=0.1)


def test_noisy_line_without_noise_is_exactly_the_line_and_seed_reproduces():
    X, y = datasets.noisy_line(n_points=10, noise=0.0, seed=3, x_range=(0, 2))
    np.testing.assert_allclose(y, 0.4 * X[:, 0] - 0.9, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(datasets.noisy_line(seed=7)[1], datasets.noisy_line(seed=7)[1])
    assert not np.array_equal(datasets.noisy_line(seed=7)[1], datasets.noisy_line(seed=8)[1])


def test_noisy_line_rejects_bad_arguments():
    with pytest.raises(ValueError, match="noise"):
        datasets.noisy_line(noise=-1)
    with pytest.raises(ValueError, match="x_range"):
        datasets.noisy_line(x_range=(1, 1))
    with pytest.raises(TypeError, match="n_points"):
        datasets.noisy_line(n_points=2.5)


# --------------------------------------------------------------------------- digits

def test_digits_is_scaled_stratified_and_seeded():
    X_train, X_test, y_train, y_test = datasets.digits(test_size=0.2, seed=0)
    assert X_train.shape == (1437, 64) and X_test.shape == (360, 64)
    assert X_train.dtype == np.float64 and y_train.dtype == np.int64
    assert X_train.min() == 0.0 and X_train.max() == 1.0
    # Stratified: each class's share of the test set within one sample of its share overall.
    all_counts = np.bincount(np.concatenate([y_train, y_test]), minlength=10)
    expected_test = all_counts * 360 / 1797
    assert np.all(np.abs(np.bincount(y_test, minlength=10) - expected_test) <= 1)
    again = datasets.digits(seed=0)
    np.testing.assert_array_equal(again.X_test, X_test)
    assert not np.array_equal(datasets.digits(seed=1).y_test, y_test)


def test_digits_matches_sklearn_pixels_divided_by_16():
    from sklearn.datasets import load_digits

    bunch = load_digits()
    X_train, X_test, y_train, y_test = datasets.digits(seed=0)
    # Every returned row is one of the original images /16, with its own label.
    rows = {tuple(row): label for row, label in zip(bunch.data / 16.0, bunch.target, strict=True)}
    for row, label in zip(X_test, y_test, strict=True):
        assert rows[tuple(row)] == label


def test_digits_standardize_uses_training_statistics():
    X_train, X_test, _, _ = datasets.digits(seed=0, standardize=True)
    varying = X_train.std(axis=0) > 0
    np.testing.assert_allclose(X_train.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(X_train.std(axis=0)[varying], 1, rtol=1e-12)
    assert np.all(np.isfinite(X_test))


# --------------------------------------------------------------------------- MNIST-1D

def test_mnist1d_is_generated_locally_balanced_and_leaves_global_rng_alone(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the package's download path would write a pickle here
    np.random.seed(123)
    random.seed(123)
    numpy_before, python_before = np.random.get_state(), random.getstate()
    X_train, X_test, y_train, y_test = datasets.mnist1d(n_samples=200, seed=0)
    assert X_train.shape == (160, 40) and X_test.shape == (40, 40)
    np.testing.assert_array_equal(np.bincount(np.concatenate([y_train, y_test])), np.full(10, 20))
    assert list(tmp_path.iterdir()) == []
    numpy_after = np.random.get_state()
    np.testing.assert_array_equal(numpy_after[1], numpy_before[1])
    assert numpy_after[2] == numpy_before[2]
    assert random.getstate() == python_before
    np.testing.assert_array_equal(datasets.mnist1d(n_samples=200, seed=0).X_test, X_test)
    assert not np.array_equal(datasets.mnist1d(n_samples=200, seed=1).X_test, X_test)


def test_mnist1d_rejects_class_unbalanced_sizes():
    with pytest.raises(ValueError, match="n_samples"):
        datasets.mnist1d(n_samples=105)


# --------------------------------------------------------------------------- IDX files

def _idx_bytes(array: np.ndarray, type_code: int, big_endian_dtype: str) -> bytes:
    """An IDX file written from the format's definition, independently of the reader."""
    header = bytes([0, 0, type_code, array.ndim]) + b"".join(struct.pack(">I", n) for n in array.shape)
    return header + array.astype(big_endian_dtype).tobytes()


def test_read_idx_reads_ubyte_images_plain_and_gzipped(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "images").write_bytes(_idx_bytes(images, 0x08, "u1"))
    (tmp_path / "images.gz").write_bytes(gzip.compress(_idx_bytes(images, 0x08, "u1")))
    for name in ("images", "images.gz"):
        read = datasets.read_idx(tmp_path / name)
        assert read.dtype == np.uint8
        np.testing.assert_array_equal(read, images)


@pytest.mark.parametrize(("type_code", "big_endian_dtype"),
                         [(0x09, ">i1"), (0x0B, ">i2"), (0x0C, ">i4"), (0x0D, ">f4"), (0x0E, ">f8")])
def test_read_idx_reads_every_type_big_endian(tmp_path, type_code, big_endian_dtype):
    values = np.array([[-3, 0, 7], [100, -100, 1]])
    (tmp_path / "data").write_bytes(_idx_bytes(values, type_code, big_endian_dtype))
    read = datasets.read_idx(tmp_path / "data")
    assert read.dtype.isnative
    np.testing.assert_array_equal(read, values)


def test_load_idx_pair_flattens_scales_and_checks_counts(tmp_path):
    images = np.array([[[0, 255], [51, 102]], [[255, 0], [0, 0]], [[1, 2], [3, 4]]], dtype=np.uint8)
    labels = np.array([7, 2, 9], dtype=np.uint8)
    (tmp_path / "x").write_bytes(_idx_bytes(images, 0x08, "u1"))
    (tmp_path / "y").write_bytes(_idx_bytes(labels, 0x08, "u1"))
    X, y = datasets.load_idx_pair(tmp_path / "x", tmp_path / "y")
    assert X.shape == (3, 4) and y.dtype == np.int64
    np.testing.assert_allclose(X[0], [0, 1, 0.2, 0.4], rtol=1e-15)
    np.testing.assert_array_equal(y, [7, 2, 9])
    (tmp_path / "y2").write_bytes(_idx_bytes(labels[:2], 0x08, "u1"))
    with pytest.raises(ValueError, match="3 samples.*2 labels"):
        datasets.load_idx_pair(tmp_path / "x", tmp_path / "y2")


def test_read_idx_reports_corrupted_files(tmp_path):
    good = _idx_bytes(np.zeros((2, 3), dtype=np.uint8), 0x08, "u1")
    cases = {
        "short": (good[:3], "shorter than the 4-byte magic"),
        "magic": (b"\x01" + good[1:], "two zero bytes"),
        "type": (good[:2] + b"\x07" + good[3:], "unknown IDX type code 0x07"),
        "header": (good[:9], "header announces 2 dimensions"),
        "truncated": (good[:-1], "truncated.*needs 6 data bytes, the file has 5"),
        "trailing": (good + b"\x00", "trailing data"),
        "gzip": (gzip.compress(good)[:-6], "corrupted or truncated gzip"),
    }
    for name, (content, message) in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ValueError, match=message):
            datasets.read_idx(tmp_path / name)


# --------------------------------------------------------------------------- Standardizer

def test_standardizer_centers_scales_and_inverts():
    rng = np.random.default_rng(0)
    X = rng.normal([1.0, -2.0, 5.0], [0.5, 3.0, 1.0], size=(100, 3))
    X[:, 2] = 5.0  # a constant feature
    scaler = datasets.Standardizer().fit(X)
    np.testing.assert_allclose(scaler.mean_, X.mean(axis=0), rtol=1e-14)
    Z = scaler.transform(X)
    np.testing.assert_allclose(Z.mean(axis=0), 0, atol=1e-14)
    np.testing.assert_allclose(Z[:, :2].std(axis=0), 1, rtol=1e-12)
    np.testing.assert_array_equal(Z[:, 2], 0)  # centered, left unscaled (scale 1), no NaN
    assert scaler.scale_[2] == 1.0
    np.testing.assert_allclose(scaler.inverse_transform(Z), X, rtol=1e-14, atol=1e-14)
    # Test data is transformed with the training statistics, not its own.
    np.testing.assert_allclose(scaler.transform(X[:1] + 1.0)[0, 0], (X[0, 0] + 1 - X[:, 0].mean())
                               / X[:, 0].std(), rtol=1e-13)


def test_standardizer_errors_name_the_problem():
    scaler = datasets.Standardizer()
    with pytest.raises(ValueError, match="not fitted"):
        scaler.transform(np.zeros((2, 2)))
    scaler.fit(np.ones((3, 2)))
    with pytest.raises(ValueError, match="3 features.*fitted on 2"):
        scaler.transform(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="finite"):
        scaler.transform(np.array([[np.nan, 0.0]]))
