"""Downloads of IDX data sets, against a loopback HTTP server (never the internet): files verified by
size and SHA-256 before they are cached; wrong checksums, truncated transfers and dead mirrors
refused with advice, and no partial file left for a later call to trust."""

from __future__ import annotations

import gzip
import hashlib
import socket
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from ratenet import datasets, downloads
from ratenet.downloads import DownloadError, RemoteFile


def _idx_gz(array: np.ndarray) -> bytes:
    """A gzipped IDX file of uint8 written from the format's definition (independent of the reader)."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", n) for n in array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes(), mtime=0)


class _Server:
    """Serves ``files[name] = bytes`` at ``/name``; ``mode`` decides how each response misbehaves:
    "ok", "truncate" (announces the full length, sends half, closes), "corrupt" (one byte changed,
    same length) or "missing" (404). Counts the requests it answered."""

    def __init__(self, files: dict[str, bytes], mode: str = "ok"):
        self.files, self.mode, self.requests = files, mode, []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                name = self.path.rsplit("/", 1)[-1]
                server.requests.append(name)
                body = server.files.get(name)
                if body is None or server.mode == "missing":
                    self.send_error(404)
                    return
                if server.mode == "corrupt":
                    body = body[:-1] + bytes([body[-1] ^ 0xFF])
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if server.mode == "truncate":
                    self.wfile.write(body[:len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/data/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02},
                                       daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def _closed_port_url() -> str:
    """A loopback URL nothing listens on (a mirror that is down, as when offline)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


@pytest.fixture
def tiny_set():
    """A 5-train / 3-test IDX set of 4x4 images, its files, and its IDXDataset description."""
    rng = np.random.default_rng(0)
    arrays = {"train-images-idx3-ubyte.gz": rng.integers(0, 256, (5, 4, 4)),
              "train-labels-idx1-ubyte.gz": rng.integers(0, 10, 5),
              "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (3, 4, 4)),
              "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, 3)}
    files = {name: _idx_gz(array) for name, array in arrays.items()}
    remote = {name: RemoteFile(name, hashlib.sha256(body).hexdigest(), len(body))
              for name, body in files.items()}
    names = list(files)
    dataset = datasets.IDXDataset("tiny", ("http://unused.invalid/",), *(remote[n] for n in names))
    return arrays, files, dataset


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


def test_a_verified_download_is_cached_and_read_back_without_the_network(tmp_path, tiny_set):
    arrays, files, dataset = tiny_set
    with _Server(files) as server:
        X_train, X_test, y_train, y_test = datasets.fetch_idx_dataset(dataset, tmp_path,
                                                                      mirrors=[server.url])
    assert sorted(server.requests) == sorted(files)
    np.testing.assert_allclose(X_train, arrays["train-images-idx3-ubyte.gz"].reshape(5, 16) / 255.0,
                               rtol=1e-15)
    np.testing.assert_array_equal(y_test, arrays["t10k-labels-idx1-ubyte.gz"])
    assert X_test.shape == (3, 16) and y_train.dtype == np.int64
    assert sorted(p.name for p in (tmp_path / "tiny").iterdir()) == sorted(files)     # no .part left
    # The server is gone: the cache alone serves the next call, with or without download allowed.
    again = datasets.fetch_idx_dataset(dataset, tmp_path, mirrors=[_closed_port_url()])
    np.testing.assert_array_equal(again.X_train, X_train)
    datasets.fetch_idx_dataset(dataset, tmp_path, download=False)


def test_a_wrong_checksum_is_refused_and_nothing_is_cached(tmp_path, tiny_set):
    _, files, dataset = tiny_set
    with _Server(files, mode="corrupt") as server, \
            pytest.raises(DownloadError, match="SHA-256 [0-9a-f]{64}, expected [0-9a-f]{64}"):
        datasets.fetch_idx_dataset(dataset, tmp_path, mirrors=[server.url])
    assert list((tmp_path / "tiny").iterdir()) == []
    # The real MNIST checksums against files that are not MNIST's: refused as well.
    with _Server(files) as server, pytest.raises(DownloadError, match="expected 9912422"):
        datasets.mnist(tmp_path, mirrors=[server.url])
    assert list((tmp_path / "mnist").iterdir()) == []


def test_a_truncated_transfer_is_refused_and_leaves_no_partial_file(tmp_path, tiny_set):
    _, files, dataset = tiny_set
    cut = r"received \d+ bytes, expected \d+ \(truncated\)"
    with _Server(files, mode="truncate") as server, pytest.raises(DownloadError, match=cut):
        datasets.fetch_idx_dataset(dataset, tmp_path, mirrors=[server.url])
    assert list((tmp_path / "tiny").iterdir()) == []
    # A later call with a working mirror downloads the file again, whole.
    with _Server(files) as server:
        split = datasets.fetch_idx_dataset(dataset, tmp_path, mirrors=[server.url])
    assert split.X_train.shape == (5, 16)


def test_a_short_file_with_a_consistent_length_is_refused(tmp_path, tiny_set):
    # The server is honest about a file that is too short (e.g. a mirror with a cut copy).
    _, files, dataset = tiny_set
    short = {name: body[:-10] for name, body in files.items()}
    with _Server(short) as server, pytest.raises(DownloadError, match=r"received \d+ bytes, expected"):
        datasets.fetch_idx_dataset(dataset, tmp_path, mirrors=[server.url])
    assert list((tmp_path / "tiny").iterdir()) == []


def test_the_next_mirror_is_tried_when_one_fails(tmp_path, tiny_set):
    _, files, dataset = tiny_set
    with _Server(files, mode="missing") as broken, _Server(files) as working:
        split = datasets.fetch_idx_dataset(dataset, tmp_path, mirrors=[broken.url, working.url])
    assert len(broken.requests) == len(working.requests) == 4     # each file: the 404, then the next mirror
    assert split.y_train.shape == (5,)


def test_offline_the_error_says_where_to_put_the_files(tmp_path, tiny_set):
    _, _, dataset = tiny_set
    with pytest.raises(DownloadError) as error:
        datasets.fetch_idx_dataset(dataset, tmp_path, mirrors=[_closed_port_url()])
    message = str(error.value)
    assert "offline" in message and str(tmp_path / "tiny") in message
    assert dataset.train_images.sha256 in message and "RATENET_DATA" in message
    with pytest.raises(DownloadError, match="download=False"):
        datasets.mnist(tmp_path, download=False)


def test_a_wrong_file_in_the_cache_is_not_trusted(tmp_path, tiny_set):
    _, files, dataset = tiny_set
    folder = tmp_path / "tiny"
    folder.mkdir()
    (folder / dataset.train_images.name).write_bytes(b"\0" * dataset.train_images.size)
    with pytest.raises(DownloadError, match="cached file .* not the expected.*Delete it"):
        datasets.fetch_idx_dataset(dataset, tmp_path, download=False)


def test_data_home_follows_the_environment(tmp_path, monkeypatch, tiny_set):
    monkeypatch.setenv("RATENET_DATA", str(tmp_path / "env"))
    assert downloads.data_home() == tmp_path / "env"
    monkeypatch.delenv("RATENET_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert downloads.data_home() == tmp_path / "xdg" / "ratenet"
    assert downloads.data_home(tmp_path / "given") == tmp_path / "given"
    _, files, dataset = tiny_set
    monkeypatch.setenv("RATENET_DATA", str(tmp_path / "env"))
    with _Server(files) as server:
        datasets.fetch_idx_dataset(dataset, mirrors=[server.url])
    assert (tmp_path / "env" / "tiny" / dataset.test_labels.name).exists()


def test_progress_bar_counts_the_bytes(tmp_path, tiny_set, capsys):
    _, files, dataset = tiny_set
    with _Server(files) as server:
        downloads.fetch_file(dataset.train_images, [server.url], tmp_path, progress=True)
    assert dataset.train_images.name in capsys.readouterr().err


def test_bad_descriptions_are_refused():
    with pytest.raises(ValueError, match="sha256"):
        RemoteFile("a.gz", "abc", 10)
    with pytest.raises(ValueError, match="plain file name"):
        RemoteFile("../a.gz", "0" * 64, 10)
    with pytest.raises(ValueError, match="size"):
        RemoteFile("a.gz", "0" * 64, -1)
    with pytest.raises(ValueError, match="mirrors"):
        downloads.fetch_file(RemoteFile("a.gz", "0" * 64, 1), [], "/tmp")
    with pytest.raises(TypeError, match="IDXDataset"):
        datasets.fetch_idx_dataset("mnist")
