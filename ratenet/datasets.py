"""Data sets for teaching and testing rate networks: small ones bundled, MNIST downloaded on request.

- :func:`xor` and :func:`logical_or`: the four points of the course notes' Chapter 7.
- :func:`noisy_line`: points scattered around the course notes' line y = 0.4 x - 0.9.
- :func:`digits`: scikit-learn's bundled 8x8 handwritten digits (no download).
- :func:`mnist1d`: MNIST-1D, generated locally with the ``mnist1d`` package's own generator.
- :func:`mnist` and :func:`fashion_mnist`: the 28x28 IDX data sets, downloaded on an explicit call,
  verified by SHA-256 and cached (:mod:`ratenet.downloads`); :func:`fetch_idx_dataset` for any set
  published the same way.
- :func:`read_idx` and :func:`load_idx_pair`: readers of MNIST's IDX files, for users who have them.
- :class:`Standardizer`: per-feature mean and standard deviation fitted on training data (the
  course notes' "normalize your data").

Only :func:`mnist`, :func:`fashion_mnist` and :func:`fetch_idx_dataset` use the network, and only when
called; everything else works offline. Features are rows (``X`` of shape ``(n_samples, n_features)``,
float64); class labels are int64 arrays of shape ``(n_samples,)``. Randomness comes only from the
``seed`` argument; the global NumPy and Python random states are left as they were found.
"""

from __future__ import annotations

import gzip
import os
import random
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from . import downloads
from .downloads import RemoteFile, fetch_file
from .validation import as_finite_array, check_nonnegative, check_positive_int

__all__ = [
    "FASHION_MNIST",
    "IDXDataset",
    "MNIST",
    "Standardizer",
    "digits",
    "fashion_mnist",
    "fetch_idx_dataset",
    "load_idx_pair",
    "logical_or",
    "mnist",
    "mnist1d",
    "noisy_line",
    "read_idx",
    "xor",
]


class Split(NamedTuple):
    """A train/test split: ``X_train, X_test, y_train, y_test`` (unpacks like scikit-learn's)."""

    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray


# --------------------------------------------------------------------------- the notes' toy sets

def xor() -> tuple[np.ndarray, np.ndarray]:
    """The exclusive-or truth table, which no single threshold unit can learn.

    Returns
    -------
    X : ndarray, shape (4, 2), float64
        The inputs (0, 0), (0, 1), (1, 0), (1, 1).
    y : ndarray, shape (4,), int64
        ``x1 XOR x2``: 0, 1, 1, 0.
    """
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
    return X, np.array([0, 1, 1, 0], dtype=np.int64)


def logical_or() -> tuple[np.ndarray, np.ndarray]:
    """The inclusive-or truth table, which a single threshold unit learns (linearly separable).

    Returns
    -------
    X : ndarray, shape (4, 2), float64
        The inputs (0, 0), (0, 1), (1, 0), (1, 1).
    y : ndarray, shape (4,), int64
        ``x1 OR x2``: 0, 1, 1, 1.
    """
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
    return X, np.array([0, 1, 1, 1], dtype=np.int64)


#: Slope and intercept of the notes' line y = 0.4 x - 0.9.
LINE_SLOPE = 0.4
LINE_INTERCEPT = -0.9


def noisy_line(n_points: int = 50, noise: float = 0.2, seed: int | np.random.Generator = 0,
               x_range: tuple[float, float] = (-5.0, 5.0)) -> tuple[np.ndarray, np.ndarray]:
    """Points around the notes' line ``y = 0.4 x - 0.9`` with Gaussian noise on y.

    ``x`` is drawn uniformly from ``x_range`` (default [-5, 5], so the line's values run from
    -2.9 to 1.1 and a single linear unit fits it without rescaling); ``y = 0.4 x - 0.9 + noise * e``
    with ``e`` standard normal.

    Parameters
    ----------
    n_points : int
        Number of points, >= 1. Default 50.
    noise : float
        Standard deviation of the Gaussian noise on y, >= 0. Default 0.2, a twentieth of the
        line's rise (4) over the default range: the trend is plain, the scatter visible.
    seed : int or numpy.random.Generator
        Source of randomness. Default 0.
    x_range : (float, float)
        Interval ``[low, high)`` of x. Default (-5, 5).

    Returns
    -------
    X : ndarray, shape (n_points, 1), float64
        The x values, as a one-feature design matrix.
    y : ndarray, shape (n_points,), float64
        The noisy y values. Use ``y[:, None]`` as the target of a one-output network.
    """
    n_points = check_positive_int("n_points", n_points)
    noise = check_nonnegative("noise", noise)
    low, high = (float(bound) for bound in as_finite_array("x_range", x_range, ndim=1))
    if not high > low:
        raise ValueError(f"x_range must be (low, high) with high > low, got {x_range!r}")
    rng = _generator(seed)
    x = rng.uniform(low, high, size=n_points)
    y = LINE_SLOPE * x + LINE_INTERCEPT + noise * rng.standard_normal(n_points)
    return x.reshape(-1, 1), y


# --------------------------------------------------------------------------- real data

def digits(test_size: float = 0.2, seed: int = 0, standardize: bool = False) -> Split:
    """scikit-learn's bundled 8x8 handwritten digits, split into training and test sets.

    1797 images of the digits 0-9 from the UCI optical-recognition set, shipped inside
    scikit-learn (no download). Pixels, originally integers 0-16, are scaled to [0, 1] by /16.
    The split is stratified by class and seeded, so every class keeps its proportion.

    Parameters
    ----------
    test_size : float
        Fraction of the samples held out for testing, in (0, 1). Default 0.2 (360 test images).
    seed : int
        Seed of the shuffle before the split. Default 0.
    standardize : bool
        If True, fit a :class:`Standardizer` on the training images and apply it to both sets
        (the corner pixels that are always 0 are centered but not scaled). Default False: the
        pixels are already in [0, 1], which suits sigmoid and LIF-rate networks.

    Returns
    -------
    Split
        ``X_train`` (n_train, 64) and ``X_test`` (n_test, 64) float64; ``y_train`` and ``y_test``
        int64 labels 0-9.

    Raises
    ------
    ImportError
        If scikit-learn is not installed (it is in the ``data`` extra).
    """
    test_size = _check_fraction("test_size", test_size)
    seed = _check_seed(seed)
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError as error:
        raise ImportError("digits() needs scikit-learn: pip install 'neurosim-ratenet[data]'") from error
    bunch = load_digits()
    X = bunch.data.astype(np.float64) / 16.0
    y = bunch.target.astype(np.int64)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=test_size, random_state=seed,
                                                        stratify=y)
    if standardize:
        scaler = Standardizer().fit(X_train)
        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    return Split(np.ascontiguousarray(X_train), np.ascontiguousarray(X_test), y_train, y_test)


def mnist1d(n_samples: int = 5000, seed: int = 0, train_split: float = 0.8) -> Split:
    """MNIST-1D (Greydanus 2020), generated locally by the ``mnist1d`` package.

    Each sample is a 1-D signal of 40 values: one of ten digit templates padded, dilated, scaled,
    translated, sheared and corrupted by correlated and i.i.d. noise. We call the package's
    generator ``mnist1d.data.make_dataset`` with its default arguments except ``num_samples``,
    ``seed`` and ``train_split``; the package's download path (``get_dataset``, which fetches a
    pickle from GitHub and caches it in the working directory) is never used, and nothing is
    written to disk. ``n_samples=5000, seed=42`` are the package's own defaults.

    The generator seeds NumPy's and Python's global random states; we save them before the call
    and restore them after, so calling this function does not disturb other code's randomness.

    Parameters
    ----------
    n_samples : int
        Total number of samples, >= 10; a multiple of 10 (``n_samples // 10`` per class are made).
        Default 5000, the package's default.
    seed : int
        Seed of the generator, >= 0. Default 0.
    train_split : float
        Fraction of the (shuffled) samples used for training, in (0, 1). Default 0.8, the
        package's default.

    Returns
    -------
    Split
        ``X_train`` (n_train, 40) and ``X_test`` (n_test, 40) float64 (the whole set centered to
        mean 0 and scaled to standard deviation 1 by the generator); ``y_train``, ``y_test`` int64
        labels 0-9.

    Raises
    ------
    ImportError
        If the ``mnist1d`` package is not installed (it is in the ``data`` extra).
    """
    n_samples = check_positive_int("n_samples", n_samples)
    if n_samples < 10 or n_samples % 10:
        raise ValueError(f"n_samples must be a positive multiple of 10 (equal classes), got {n_samples}")
    seed = _check_seed(seed)
    train_split = _check_fraction("train_split", train_split)
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as error:
        raise ImportError("mnist1d() needs the mnist1d package: pip install 'neurosim-ratenet[data]'") \
            from error
    args = get_dataset_args()
    args.num_samples = n_samples
    args.seed = seed
    args.train_split = train_split
    numpy_state, python_state = np.random.get_state(), random.getstate()
    try:
        data = make_dataset(args)
    finally:
        np.random.set_state(numpy_state)
        random.setstate(python_state)
    if len(data["y"]) == 0 or len(data["y_test"]) == 0:
        raise ValueError(f"n_samples={n_samples} with train_split={train_split} leaves an empty set")
    return Split(np.ascontiguousarray(data["x"], dtype=np.float64),
                 np.ascontiguousarray(data["x_test"], dtype=np.float64),
                 np.asarray(data["y"], dtype=np.int64), np.asarray(data["y_test"], dtype=np.int64))


# --------------------------------------------------------------------------- IDX files (MNIST)

# IDX type codes (third byte of the magic number) -> big-endian numpy dtypes.
_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (the format of the MNIST distribution), plain or gzip-compressed.

    The format: a 4-byte magic number ``0x00 0x00 <type> <ndim>``, then ``ndim`` big-endian
    uint32 sizes, then the data in C order, big-endian. Type codes: 0x08 uint8, 0x09 int8,
    0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64. Gzip is recognised by its own magic bytes,
    whatever the file's name.

    Parameters
    ----------
    path : str or path-like
        The file, e.g. ``train-images-idx3-ubyte`` or ``train-images-idx3-ubyte.gz``.

    Returns
    -------
    ndarray
        Shape given by the header, native byte order (``uint8`` for MNIST's images and labels).

    Raises
    ------
    ValueError
        If the file is not IDX (bad magic number, unknown type code), is truncated (shorter than
        its header says) or has trailing bytes, or is a corrupted gzip stream.
    FileNotFoundError
        If ``path`` does not exist.
    """
    raw = _read_bytes(path)
    name = os.fspath(path)
    if len(raw) < 4:
        raise ValueError(f"{name!r} is not an IDX file: {len(raw)} bytes, shorter than the 4-byte "
                         "magic number")
    if raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{name!r} is not an IDX file: the magic number must start with two zero bytes, "
                         f"got {raw[:4].hex()}")
    type_code, ndim = raw[2], raw[3]
    if type_code not in _IDX_DTYPES:
        raise ValueError(f"{name!r}: unknown IDX type code 0x{type_code:02x}; expected one of "
                         f"{[f'0x{code:02x}' for code in _IDX_DTYPES]}")
    header_end = 4 + 4 * ndim
    if len(raw) < header_end:
        raise ValueError(f"{name!r} is truncated: its header announces {ndim} dimensions "
                         f"({header_end} header bytes) but the file has {len(raw)} bytes")
    shape = tuple(int(size) for size in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_DTYPES[type_code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    found = len(raw) - header_end
    if found < expected:
        raise ValueError(f"{name!r} is truncated: shape {shape} of {dtype.name} needs {expected} data "
                         f"bytes, the file has {found}")
    if found > expected:
        raise ValueError(f"{name!r} is corrupted: shape {shape} of {dtype.name} needs {expected} data "
                         f"bytes, the file has {found} (trailing data)")
    data = np.frombuffer(raw, dtype=dtype, count=expected // dtype.itemsize, offset=header_end)
    return data.astype(dtype.newbyteorder("="), copy=True).reshape(shape)


def load_idx_pair(images_path: str | os.PathLike, labels_path: str | os.PathLike, *,
                  flatten: bool = True, scale: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Read an MNIST-style pair of IDX files: images and their labels.

    Parameters
    ----------
    images_path : str or path-like
        IDX file of images, shape (n, rows, cols) (or any shape whose first axis is the sample).
    labels_path : str or path-like
        IDX file of labels, shape (n,).
    flatten : bool
        If True (default), reshape the images to rows ``(n, rows * cols)``.
    scale : bool
        If True (default), uint8 pixel values are divided by 255 into [0, 1].

    Returns
    -------
    X : ndarray, shape (n, rows * cols) (or (n, rows, cols) if not flattened), float64
    y : ndarray, shape (n,), int64

    Raises
    ------
    ValueError
        If either file is not valid IDX, the labels are not 1-D, or the counts differ.
    """
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if labels.ndim != 1:
        raise ValueError(f"labels_path must hold a 1-D IDX array of labels, got shape {labels.shape}")
    if images.ndim < 1 or images.shape[0] != labels.shape[0]:
        raise ValueError(f"images_path holds {images.shape[0] if images.ndim else 0} samples but "
                         f"labels_path holds {labels.shape[0]} labels")
    X = images.astype(np.float64)
    if scale and images.dtype == np.uint8:
        X /= 255.0
    if flatten:
        X = X.reshape(X.shape[0], -1)
    return X, labels.astype(np.int64)


def _read_bytes(path: str | os.PathLike) -> bytes:
    with open(path, "rb") as handle:
        raw = handle.read()
    if raw[:2] == _GZIP_MAGIC:
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, gzip.BadGzipFile) as error:
            raise ValueError(f"{os.fspath(path)!r} is a corrupted or truncated gzip file: {error}") from error
    return raw


# --------------------------------------------------------------------------- downloadable IDX sets

@dataclass(frozen=True)
class IDXDataset:
    """A data set published as four IDX files (train/test images and labels), as MNIST is.

    Attributes
    ----------
    name : str
        Name of the set; its files are cached in ``data_home / name``.
    mirrors : tuple of str
        Base URLs the files are fetched from, tried in order (``mirror + file name``).
    train_images, train_labels, test_images, test_labels : RemoteFile
        The four files with their sizes and SHA-256 checksums.
    """

    name: str
    mirrors: tuple[str, ...]
    train_images: RemoteFile
    train_labels: RemoteFile
    test_images: RemoteFile
    test_labels: RemoteFile

    @property
    def files(self) -> tuple[RemoteFile, ...]:
        return (self.train_images, self.train_labels, self.test_images, self.test_labels)


#: MNIST (LeCun, Cortes & Burges): 60,000 training and 10,000 test images of handwritten digits,
#: 28x28 uint8. Sizes and SHA-256 checksums are those of the files on the original site, which
#: the mirrors copy byte for byte.
MNIST = IDXDataset(
    name="mnist",
    mirrors=("https://storage.googleapis.com/cvdf-datasets/mnist/",
             "https://ossci-datasets.s3.amazonaws.com/mnist/"),
    train_images=RemoteFile("train-images-idx3-ubyte.gz",
                            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", 9912422),
    train_labels=RemoteFile("train-labels-idx1-ubyte.gz",
                            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c", 28881),
    test_images=RemoteFile("t10k-images-idx3-ubyte.gz",
                           "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6", 1648877),
    test_labels=RemoteFile("t10k-labels-idx1-ubyte.gz",
                           "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6", 4542),
)

#: Fashion-MNIST (Xiao, Rasul & Vollgraf 2017, Zalando Research): MNIST's format and sizes, with
#: images of ten kinds of clothing (0 T-shirt/top, 1 trouser, 2 pullover, 3 dress, 4 coat,
#: 5 sandal, 6 shirt, 7 sneaker, 8 bag, 9 ankle boot).
FASHION_MNIST = IDXDataset(
    name="fashion-mnist",
    mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    train_images=RemoteFile("train-images-idx3-ubyte.gz",
                            "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84", 26421880),
    train_labels=RemoteFile("train-labels-idx1-ubyte.gz",
                            "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845", 29515),
    test_images=RemoteFile("t10k-images-idx3-ubyte.gz",
                           "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073", 4422102),
    test_labels=RemoteFile("t10k-labels-idx1-ubyte.gz",
                           "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5", 5148),
)


def fetch_idx_dataset(dataset: IDXDataset, data_home: str | os.PathLike | None = None, *,
                      download: bool = True, mirrors=None, flatten: bool = True, scale: bool = True,
                      progress: bool | None = None) -> Split:
    """Load an IDX data set from the cache, downloading and verifying its files first if needed.

    Each of the four files is looked up in ``data_home / dataset.name``; a file found there is
    used only if its size and SHA-256 match, a missing one is downloaded (see
    :func:`ratenet.downloads.fetch_file`: streamed to a ``.part`` file, checked, then renamed, so
    a cut or corrupted download never stays in the cache). Then the pair readers of
    :func:`load_idx_pair` decode them.

    Parameters
    ----------
    dataset : IDXDataset
        E.g. :data:`MNIST` or :data:`FASHION_MNIST`.
    data_home : str or path-like, optional
        Cache folder; default :func:`ratenet.downloads.data_home` (``$RATENET_DATA``, else
        ``~/.cache/ratenet``).
    download : bool
        If False, never touch the network: missing files are an error saying where to put them.
    mirrors : sequence of str, optional
        Base URLs to fetch from instead of ``dataset.mirrors`` (a local mirror, a proxy).
    flatten, scale : bool
        As in :func:`load_idx_pair`: rows of 784 pixels, scaled from 0-255 to [0, 1].
    progress : bool, optional
        Progress bars of the downloads; default only on a terminal.

    Returns
    -------
    Split
        ``X_train`` (n_train, 784), ``X_test`` (n_test, 784) float64; ``y_train``, ``y_test``
        int64 labels.

    Raises
    ------
    ratenet.downloads.DownloadError
        When a file cannot be downloaded or verified; the message says how to put it in place by hand.
    """
    if not isinstance(dataset, IDXDataset):
        raise TypeError(f"dataset must be an IDXDataset (e.g. datasets.MNIST), got {type(dataset).__name__}")
    folder = downloads.data_home(data_home) / dataset.name
    mirrors = dataset.mirrors if mirrors is None else mirrors
    paths = [fetch_file(remote, mirrors, folder, download=download, progress=progress)
             for remote in dataset.files]
    X_train, y_train = load_idx_pair(paths[0], paths[1], flatten=flatten, scale=scale)
    X_test, y_test = load_idx_pair(paths[2], paths[3], flatten=flatten, scale=scale)
    return Split(X_train, X_test, y_train, y_test)


def mnist(data_home: str | os.PathLike | None = None, *, download: bool = True, mirrors=None,
          flatten: bool = True, scale: bool = True, progress: bool | None = None) -> Split:
    """MNIST's 60,000 training and 10,000 test digits, downloaded once and cached.

    The first call downloads the four gzipped IDX files (11.6 MB) from the mirrors of
    :data:`MNIST`, checks each one's SHA-256, and keeps them in ``data_home/mnist``; later calls
    read the cache (checked again). Offline, the error message names the files, their checksums
    and the folder to put them in. Parameters and result as in :func:`fetch_idx_dataset`.

    Examples
    --------
    >>> X_train, X_test, y_train, y_test = rn.datasets.mnist()    # doctest: +SKIP
    >>> X_train.shape, X_test.shape                                # doctest: +SKIP
    ((60000, 784), (10000, 784))
    """
    return fetch_idx_dataset(MNIST, data_home, download=download, mirrors=mirrors, flatten=flatten,
                             scale=scale, progress=progress)


def fashion_mnist(data_home: str | os.PathLike | None = None, *, download: bool = True, mirrors=None,
                  flatten: bool = True, scale: bool = True, progress: bool | None = None) -> Split:
    """Fashion-MNIST's 60,000 training and 10,000 test images of clothing (MNIST's format).

    Downloaded once (30 MB, gzipped IDX) from the mirrors of :data:`FASHION_MNIST`, verified by
    SHA-256 and cached in ``data_home/fashion-mnist``; see :func:`mnist` and
    :func:`fetch_idx_dataset`.
    """
    return fetch_idx_dataset(FASHION_MNIST, data_home, download=download, mirrors=mirrors,
                             flatten=flatten, scale=scale, progress=progress)


# --------------------------------------------------------------------------- preprocessing

class Standardizer:
    """Per-feature standardization ``(x - mean) / std``, fitted on training data only.

    Fit on the training set and apply the same transform to validation and test data, so no
    information about them leaks into training. A feature with zero variance in the training data
    (e.g. a digits corner pixel that is always 0) is centered but not scaled: its scale is 1.

    Attributes
    ----------
    mean_ : ndarray, shape (n_features,)
        Per-feature mean of the training data.
    scale_ : ndarray, shape (n_features,)
        Per-feature standard deviation (population, ddof=0), 1 where it is 0.

    Examples
    --------
    >>> scaler = Standardizer().fit(X_train)
    >>> X_train_std, X_test_std = scaler.transform(X_train), scaler.transform(X_test)
    """

    def __init__(self) -> None:
        self.mean_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None

    def fit(self, X: object) -> Standardizer:
        """Learn the mean and standard deviation of each column of ``X`` (n_samples, n_features)."""
        X = as_finite_array("X", X, ndim=2)
        if X.shape[0] == 0:
            raise ValueError("X must hold at least one sample to fit a Standardizer")
        self.mean_ = X.mean(axis=0)
        std = X.std(axis=0)
        # A standard deviation that is zero up to rounding (relative to the values) means a constant
        # feature; scaling it would amplify rounding noise into O(1) values.
        tiny = 10 * np.finfo(np.float64).eps * np.maximum(np.abs(self.mean_), 1.0)
        self.scale_ = np.where(std > tiny, std, 1.0)
        return self

    def transform(self, X: object) -> np.ndarray:
        """Return ``(X - mean_) / scale_``, float64, same shape as ``X``."""
        X = self._check_input(X)
        return (X - self.mean_) / self.scale_

    def fit_transform(self, X: object) -> np.ndarray:
        """:meth:`fit` then :meth:`transform` on the same ``X``."""
        return self.fit(X).transform(X)

    def inverse_transform(self, X: object) -> np.ndarray:
        """Undo :meth:`transform`: ``X * scale_ + mean_``."""
        X = self._check_input(X)
        return X * self.scale_ + self.mean_

    def _check_input(self, X: object) -> np.ndarray:
        if self.mean_ is None:
            raise ValueError("this Standardizer is not fitted yet; call fit(X_train) first")
        X = as_finite_array("X", X, ndim=2)
        if X.shape[1] != self.mean_.shape[0]:
            raise ValueError(f"X has {X.shape[1]} features but the Standardizer was fitted on "
                             f"{self.mean_.shape[0]}")
        return X

    def __repr__(self) -> str:
        if self.mean_ is None:
            return "Standardizer(unfitted)"
        return f"Standardizer(n_features={self.mean_.shape[0]})"


# --------------------------------------------------------------------------- helpers

def _generator(seed: int | np.random.Generator) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(_check_seed(seed))


def _check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"seed must be a non-negative integer, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    return int(seed)


def _check_fraction(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, float | int | np.floating | np.integer):
        raise TypeError(f"{name} must be a number in (0, 1), got {type(value).__name__}")
    if not 0 < value < 1:
        raise ValueError(f"{name} must be in (0, 1), got {value!r}")
    return float(value)
