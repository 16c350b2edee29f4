"""Reading a saved network's ``.npz`` archive without trusting it.

A file may have been truncated, corrupted or crafted. Nothing it declares is allocated before it is
checked against what the file can hold:

- the archive's members must have distinct ``.npy`` names, and their declared uncompressed sizes
  may add up to at most ``MAX_INFLATION`` times the file's size (ratenet writes uncompressed
  archives, so a member that inflates far beyond its compressed size is a zip bomb, refused
  without being decompressed);
- the description member is read whole only below ``MAX_DESCRIPTION_BYTES``;
- an array member is read only when the description names it, after its ``.npy`` header has been
  read alone and found to give the expected dtype and shape, in C order, for exactly its declared
  size; members the description does not name are refused unread.

Every failure is a :class:`ArchiveError` that names the member; ``ratenet.io`` reports it as a
``NetworkFileError``.
"""

from __future__ import annotations

import io
import math
import zipfile
from pathlib import Path

import numpy as np

#: Largest description (JSON text stored as a 0-d unicode array), in bytes of its .npy member.
MAX_DESCRIPTION_BYTES = 16 * 2**20
#: The members' uncompressed sizes may add up to this multiple of the file's size (plus 1 MiB).
MAX_INFLATION = 4
#: Largest .npy header read.
_MAX_HEADER_BYTES = 65536


class ArchiveError(ValueError):
    """The archive cannot be trusted or read; the message names the part."""


class Archive:
    """An opened ``.npz`` archive whose members have passed the checks above.

    Use as a context manager; :meth:`read_description` reads the description member,
    :meth:`read_arrays` the arrays the description names.
    """

    def __init__(self, path: Path, description_key: str):
        self.path = path
        self.description_key = description_key
        try:
            self._zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
            raise ArchiveError(f"not a readable ratenet network file (corrupted or truncated?): "
                               f"{type(error).__name__}: {error}") from None
        try:
            self._members = self._check_members(path.stat().st_size)
        except BaseException:
            self._zip.close()
            raise

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc_info) -> None:
        self._zip.close()

    def _check_members(self, file_size: int) -> dict[str, zipfile.ZipInfo]:
        members: dict[str, zipfile.ZipInfo] = {}
        total = 0
        for info in self._zip.infolist():
            if not info.filename.endswith(".npy") or info.is_dir():
                raise ArchiveError(f"member {info.filename!r} is not a .npy array")
            key = info.filename[:-4]
            if key in members:
                raise ArchiveError(f"member {info.filename!r} appears twice")
            members[key] = info
            total += info.file_size
        if total > MAX_INFLATION * file_size + 2**20:
            raise ArchiveError(f"its members declare {total} bytes uncompressed in a file of {file_size} "
                               "bytes (ratenet writes uncompressed files): refused unread")
        return members

    def read_description(self) -> str:
        """The description text (the 0-d unicode array stored under ``description_key``)."""
        info = self._members.get(self.description_key)
        if info is None:
            raise ArchiveError("not a ratenet network file: it holds no architecture description")
        if info.file_size > MAX_DESCRIPTION_BYTES:
            raise ArchiveError(f"the architecture description declares {info.file_size} bytes, more "
                               f"than the {MAX_DESCRIPTION_BYTES} a description may hold")
        with self._open(info) as stream:
            dtype, shape, header_size = _read_header(stream, info.filename)
            if dtype.kind != "U" or shape != ():
                raise ArchiveError("not a ratenet network file: its architecture description is not text "
                                   f"(a {dtype} array of shape {shape})")
            _check_size(info, header_size, dtype.itemsize)
            data = _read_exactly(stream, dtype.itemsize, info.filename)
        return str(np.frombuffer(data, dtype=dtype)[0])

    def read_arrays(self, expected: dict[str, tuple[tuple[int, ...], np.dtype | None]]
                    ) -> dict[str, np.ndarray]:
        """The arrays named in ``expected`` (key -> (shape, dtype); dtype None: any floating-point
        type), after checking that the archive holds exactly those members (besides the
        description) with those headers."""
        present = set(self._members) - {self.description_key}
        unexpected = sorted(present - set(expected))
        if unexpected:
            raise ArchiveError(f"the file holds arrays its description does not mention: {unexpected[:5]}")
        missing = sorted(set(expected) - present)
        if missing:
            raise ArchiveError(f"array {missing[0]!r} is missing from the file")
        headers = {}
        for key, (shape, dtype) in expected.items():
            info = self._members[key]
            with self._open(info) as stream:
                found_dtype, found_shape, header_size = _read_header(stream, info.filename)
            if found_shape != tuple(shape):
                raise ArchiveError(f"array {key!r} has shape {found_shape}, the architecture needs "
                                   f"{tuple(shape)}")
            if found_dtype.kind != "f" or (dtype is not None and found_dtype != dtype):
                raise ArchiveError(f"array {key!r} has dtype {found_dtype}, the network's is {dtype}")
            _check_size(info, header_size, math.prod(shape) * found_dtype.itemsize)
            headers[key] = (header_size, found_dtype)
        arrays = {}
        for key, (shape, _) in expected.items():
            info = self._members[key]
            header_size, dtype = headers[key]
            with self._open(info) as stream:
                stream.read(header_size)
                data = _read_exactly(stream, info.file_size - header_size, info.filename)
            arrays[key] = np.frombuffer(data, dtype=dtype).reshape(shape)  # read-only, copied by the caller
        return arrays

    def _open(self, info: zipfile.ZipInfo):
        try:
            return self._zip.open(info)
        except (zipfile.BadZipFile, NotImplementedError, OSError, ValueError, EOFError) as error:
            raise ArchiveError(f"member {info.filename!r} cannot be read (corrupted or truncated?): "
                               f"{type(error).__name__}: {error}") from None


def _read_header(stream, name: str) -> tuple[np.dtype, tuple[int, ...], int]:
    """dtype, shape and byte size of a .npy header, read alone from ``stream``."""
    try:
        head = stream.read(10)
        if len(head) < 10 or head[:6] != b"\x93NUMPY":
            raise ArchiveError(f"member {name!r} is not a .npy array")
        major = head[6]
        if major == 1:
            length, start = int.from_bytes(head[8:10], "little"), 10
        elif major in (2, 3):
            head += stream.read(2)
            length, start = int.from_bytes(head[8:12], "little"), 12
        else:
            raise ArchiveError(f"member {name!r} has an unknown .npy version {major}")
        if length > _MAX_HEADER_BYTES:
            raise ArchiveError(f"member {name!r} has a .npy header of {length} bytes")
        header = head + stream.read(length - (len(head) - start))
        # numpy's readers take the stream after the 8 bytes of magic string and version
        reader = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
        shape, fortran_order, dtype = reader(io.BytesIO(header[8:]))
    except ArchiveError:
        raise
    except Exception as error:  # a corrupted header: numpy raises ValueError, SyntaxError...
        raise ArchiveError(f"member {name!r} is corrupted or truncated (its .npy header cannot be "
                           f"read: {type(error).__name__}: {error})") from None
    if fortran_order:
        raise ArchiveError(f"member {name!r} is stored in Fortran order; ratenet writes C order")
    if dtype.hasobject or dtype.kind not in "fU":
        raise ArchiveError(f"member {name!r} holds {dtype} data, not floating-point numbers or text")
    return dtype, tuple(int(n) for n in shape), len(header)


def _check_size(info: zipfile.ZipInfo, header_size: int, data_size: int) -> None:
    if info.file_size != header_size + data_size:
        raise ArchiveError(f"member {info.filename!r} declares {info.file_size} bytes; its header "
                           f"describes {header_size + data_size}")


def _read_exactly(stream, size: int, name: str) -> bytes:
    """``size`` bytes, then the end of the member (which makes zipfile check its CRC-32)."""
    try:
        data = stream.read(size)
        rest = stream.read(1)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
        raise ArchiveError(f"member {name!r} is corrupted or truncated: {type(error).__name__}: "
                           f"{error}") from None
    if len(data) != size or rest:
        raise ArchiveError(f"member {name!r} is corrupted or truncated: it holds "
                           f"{len(data) + len(rest)} bytes of data where its header says {size}")
    return data
