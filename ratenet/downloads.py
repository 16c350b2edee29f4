"""Files fetched over the network on an explicit call, verified and cached.

:func:`fetch_file` downloads one file from the first mirror that answers, streams it into a
temporary file next to its destination while computing its SHA-256, and moves it into place only
when its size and checksum are the expected ones. A download that fails, is cut short or carries
other bytes leaves nothing behind that a later call would trust: the temporary file is deleted,
and a file found in the cache is itself checked before it is used. :func:`data_home` is where
files are cached.

Nothing in ratenet downloads on import or behind the user's back: only the data-set functions
that say so (:func:`ratenet.datasets.mnist`, :func:`ratenet.datasets.fashion_mnist`) call this
module.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DownloadError", "RemoteFile", "data_home", "fetch_file", "sha256_of"]

#: Bytes read per chunk when streaming a download or hashing a file.
CHUNK_BYTES = 1 << 16
#: Seconds to wait for a mirror to answer (per connection attempt and per read).
TIMEOUT_S = 30.0


class DownloadError(OSError):
    """A file could not be downloaded from any mirror, or what arrived was not the expected file."""


@dataclass(frozen=True)
class RemoteFile:
    """A file that a data set is made of, as published by its authors.

    Attributes
    ----------
    name : str
        File name, the same on every mirror and in the cache (e.g. ``"t10k-labels-idx1-ubyte.gz"``).
    sha256 : str
        SHA-256 of the file's bytes, 64 lower-case hexadecimal digits.
    size : int
        Size in bytes.
    """

    name: str
    sha256: str
    size: int

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name or "/" in self.name or self.name in (".", ".."):
            raise ValueError(f"name must be a plain file name, got {self.name!r}")
        digest = str(self.sha256).lower()
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError(f"sha256 must be 64 hexadecimal digits, got {self.sha256!r}")
        object.__setattr__(self, "sha256", digest)
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 0:
            raise ValueError(f"size must be an integer >= 0 (bytes), got {self.size!r}")


def data_home(path: str | os.PathLike | None = None) -> Path:
    """The folder where downloaded data sets are cached.

    Parameters
    ----------
    path : str or path-like, optional
        An explicit folder. Default: the environment variable ``RATENET_DATA`` if set, else
        ``$XDG_CACHE_HOME/ratenet`` (``~/.cache/ratenet`` when ``XDG_CACHE_HOME`` is unset).

    Returns
    -------
    pathlib.Path
        The folder (not created here).
    """
    if path is not None:
        return Path(os.fspath(path)).expanduser()
    if os.environ.get("RATENET_DATA"):
        return Path(os.environ["RATENET_DATA"]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
    return Path(cache).expanduser() / "ratenet"


def sha256_of(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes, as 64 lower-case hexadecimal digits."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch_file(remote: RemoteFile, mirrors, folder: str | os.PathLike, *, download: bool = True,
               progress: bool | None = None) -> Path:
    """Return the verified local copy of ``remote`` in ``folder``, downloading it if needed.

    A file already in ``folder`` is used when its size and SHA-256 are the expected ones. Otherwise
    (and only if ``download``) the file is fetched from each mirror in turn, ``mirror + name``,
    streamed to ``folder/<name>.part`` while its SHA-256 is computed, and renamed to
    ``folder/<name>`` only once its size and checksum match; any failure deletes the ``.part``
    file, so an interrupted or corrupted download is never found later.

    Parameters
    ----------
    remote : RemoteFile
        The expected file.
    mirrors : sequence of str
        Base URLs, each ending in ``/``, tried in order.
    folder : str or path-like
        Cache folder; created if missing.
    download : bool
        If False, never use the network: a missing file is an error that says where to put it.
    progress : bool, optional
        A tqdm bar of the bytes received; default: only when stderr is a terminal.

    Returns
    -------
    pathlib.Path
        Path of the verified file.

    Raises
    ------
    DownloadError
        If the cached file has the wrong checksum, if no mirror delivered the expected bytes
        (every mirror's failure is listed), or if the file is missing and ``download`` is False.
        The message says where to put the file by hand.
    """
    if not isinstance(remote, RemoteFile):
        raise TypeError(f"remote must be a RemoteFile, got {type(remote).__name__}")
    mirrors = _check_mirrors(mirrors)
    folder = Path(os.fspath(folder)).expanduser()
    target = folder / remote.name
    if target.exists():
        problem = _verify(target, remote)
        if problem is None:
            return target
        raise DownloadError(f"the cached file {target} is not the expected {remote.name}: {problem}. "
                            f"Delete it (a new call downloads it again) or replace it by the file "
                            f"from {mirrors[0]}{remote.name}")
    if not download:
        raise DownloadError(f"{remote.name} is not in {folder} and download=False. "
                            + _by_hand(remote, mirrors, folder))
    folder.mkdir(parents=True, exist_ok=True)
    failures = []
    for mirror in mirrors:
        url = mirror + remote.name
        problem = _download(url, target, remote, progress)
        if problem is None:
            return target
        failures.append(f"{url}: {problem}")
    raise DownloadError(f"could not download {remote.name}:\n  " + "\n  ".join(failures) + "\n"
                        + _by_hand(remote, mirrors, folder))


def _download(url: str, target: Path, remote: RemoteFile, progress: bool | None) -> str | None:
    """Stream ``url`` into ``target`` through a ``.part`` file; return None or what went wrong."""
    partial = target.with_name(target.name + ".part")
    digest, received = hashlib.sha256(), 0
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response, open(partial, "wb") as handle:
            bar = _progress_bar(remote, progress)
            try:
                for chunk in iter(lambda: response.read(CHUNK_BYTES), b""):
                    received += len(chunk)
                    if received > remote.size:
                        return f"more than the expected {remote.size} bytes"
                    digest.update(chunk)
                    handle.write(chunk)
                    if bar is not None:
                        bar.update(len(chunk))
            finally:
                if bar is not None:
                    bar.close()
        if received != remote.size:
            return f"received {received} bytes, expected {remote.size} (truncated)"
        if digest.hexdigest() != remote.sha256:
            return f"SHA-256 {digest.hexdigest()}, expected {remote.sha256} (a different or corrupted file)"
        os.replace(partial, target)
        return None
    except (OSError, http.client.HTTPException, ValueError) as error:     # URLError is an OSError
        reason = getattr(error, "reason", None) or error
        return f"{type(error).__name__}: {reason}"
    finally:
        if partial.exists():
            partial.unlink()


def _verify(path: Path, remote: RemoteFile) -> str | None:
    size = path.stat().st_size
    if size != remote.size:
        return f"{size} bytes, expected {remote.size}"
    digest = sha256_of(path)
    if digest != remote.sha256:
        return f"SHA-256 {digest}, expected {remote.sha256}"
    return None


def _by_hand(remote: RemoteFile, mirrors: list[str], folder: Path) -> str:
    return (f"If this machine is offline, download {remote.name} by hand (e.g. from "
            f"{mirrors[0]}{remote.name}; {remote.size} bytes, SHA-256 {remote.sha256}) and put it in "
            f"{folder}, or point data_home= (or the RATENET_DATA environment variable) at a folder "
            f"that holds it")


def _check_mirrors(mirrors) -> list[str]:
    if isinstance(mirrors, str):
        mirrors = [mirrors]
    mirrors = list(mirrors)
    if not mirrors or not all(isinstance(m, str) and m.startswith(("http://", "https://", "file:"))
                              for m in mirrors):
        raise ValueError(f"mirrors must be a non-empty list of base URLs (http://, https:// or file:), "
                         f"got {mirrors!r}")
    return [m if m.endswith("/") else m + "/" for m in mirrors]


def _progress_bar(remote: RemoteFile, progress: bool | None):
    if progress is None:
        progress = sys.stderr.isatty()
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=remote.size, desc=remote.name, unit="B", unit_scale=True, unit_divisor=1024)
