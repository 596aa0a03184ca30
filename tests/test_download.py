"""Downloads against a local HTTP server on 127.0.0.1: good file, checksum mismatch,
cut-off transfer and resume, a server that ignores ranges, offline, --source, zip slip, and
a later release (ml-latest-small, which has no pinned checksum) fetched and read."""

import hashlib
import http.server
import io
import threading
import zipfile

import pytest

from data import cli, download, movielens
from data.download import DownloadError, Remote
from data.rejects import Rejects
from tests import raw_fixtures

PAYLOAD = bytes(range(256)) * 4096          # 1 MiB
MD5 = hashlib.md5(PAYLOAD).hexdigest()


class _Handler(http.server.BaseHTTPRequestHandler):
    mode = "good"          # good | cut | no-range
    requests: list = []
    payload = PAYLOAD      # what every GET serves

    def log_message(self, *args):
        pass

    def do_GET(self):
        _Handler.requests.append(self.headers.get("Range"))
        body, status = _Handler.payload, 200
        rng = self.headers.get("Range")
        if rng and _Handler.mode != "no-range":
            start = int(rng.split("=")[1].rstrip("-"))
            body, status = _Handler.payload[start:], 206
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if _Handler.mode == "cut":
            self.wfile.write(body[: len(body) // 3])
            self.wfile.flush()
            self.connection.shutdown(2)
            return
        self.wfile.write(body)


@pytest.fixture()
def server():
    _Handler.mode, _Handler.requests, _Handler.payload = "good", [], PAYLOAD
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_good_file_is_downloaded_verified_and_cached(server, tmp_path):
    remote = Remote("data.bin", f"{server}/data.bin", MD5)
    path = download.download(remote, tmp_path, progress=False)
    assert path.read_bytes() == PAYLOAD and not (tmp_path / "data.bin.part").exists()
    download.download(remote, tmp_path, progress=False)
    assert len(_Handler.requests) == 1                      # the second call used the cache


def test_checksum_mismatch_is_refused(server, tmp_path):
    remote = Remote("data.bin", f"{server}/data.bin", "0" * 32)
    with pytest.raises(DownloadError, match="does not match the published"):
        download.download(remote, tmp_path, progress=False)
    assert not (tmp_path / "data.bin").exists() and not (tmp_path / "data.bin.part").exists()


def test_cut_off_transfer_resumes(server, tmp_path):
    remote = Remote("data.bin", f"{server}/data.bin", MD5)
    _Handler.mode = "cut"
    with pytest.raises(DownloadError, match="run again to resume"):
        download.download(remote, tmp_path, progress=False)
    partial = (tmp_path / "data.bin.part").stat().st_size
    assert 0 < partial < len(PAYLOAD) and not (tmp_path / "data.bin").exists()
    _Handler.mode = "good"
    path = download.download(remote, tmp_path, progress=False)
    assert path.read_bytes() == PAYLOAD
    assert _Handler.requests[-1] == f"bytes={partial}-"


def test_server_ignoring_ranges_restarts(server, tmp_path):
    (tmp_path / "data.bin.part").write_bytes(b"stale bytes")
    _Handler.mode = "no-range"
    path = download.download(Remote("data.bin", f"{server}/data.bin", MD5), tmp_path, progress=False)
    assert path.read_bytes() == PAYLOAD


def test_offline_says_what_is_missing_and_where(tmp_path):
    remote = Remote("ml-1m.zip", "http://127.0.0.1:9/ml-1m.zip", None)
    with pytest.raises(DownloadError, match=r"Offline\? Put ml-1m.zip at .*ml-1m.zip, or pass --source"):
        download.download(remote, tmp_path / "cache", timeout=2, progress=False)


def _zip(path, members):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def test_zip_member_outside_the_target_is_refused(tmp_path):
    archive = _zip(tmp_path / "evil.zip", {"ml-1m/users.dat": "1::F::1::10::48067\n", "../escape.txt": "x"})
    with pytest.raises(DownloadError, match="outside"):
        download.safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path / "out" / "ml-1m").exists()


def test_source_dir_is_used_instead_of_the_network(tmp_path, monkeypatch):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("ml-100k/u.data", "1\t1\t5\t874965758\n")
    (tmp_path / "given").mkdir()
    (tmp_path / "given" / "ml-100k.zip").write_bytes(buf.getvalue())
    monkeypatch.setitem(download.DATASETS, "ml-100k",
                        [Remote("ml-100k.zip", "http://127.0.0.1:9/ml-100k.zip", hashlib.md5(buf.getvalue()).hexdigest())])
    out = download.fetch("ml-100k", tmp_path / "raw", tmp_path / "cache", source=tmp_path / "given", progress=False)
    assert (out / "ml-100k" / "u.data").read_text().startswith("1\t1\t5")
    with pytest.raises(DownloadError, match="not there"):
        download.fetch("ml-1m", tmp_path / "raw", tmp_path / "cache", source=tmp_path / "given", progress=False)


def test_every_release_is_declared_with_its_grouplens_url_and_no_invented_checksum():
    for name in ("ml-1m", "ml-100k", "ml-10m", "ml-20m", "ml-25m", "ml-latest-small", "ml-latest"):
        (remote,) = download.DATASETS[name]
        assert remote.url == f"https://files.grouplens.org/datasets/movielens/{name}.zip" and remote.name == f"{name}.zip"
        assert remote.md5 is None or len(remote.md5) == 32 and int(remote.md5, 16) >= 0
    # Rebuilt in place under the same URL: nothing to pin, fetched unverified (and fetch says so).
    assert download.unverified("ml-latest-small") == ["ml-latest-small.zip"]
    assert download.unverified("ml-latest") == ["ml-latest.zip"]
    assert download.unverified("ml-10m") == download.unverified("ml-25m") == download.unverified("ml-1m") == []
    assert download.FOLDERS["ml-10m"] == "ml-10M100K"


def _release_zip(tmp_path) -> bytes:
    """ml-latest-small.zip as GroupLens lays it out: ml-latest-small/{ratings,movies,links,tags}.csv."""
    root = raw_fixtures.write_ml_latest_small(tmp_path / "files")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for path in sorted((root / "ml-latest-small").iterdir()):
            z.write(path, f"ml-latest-small/{path.name}")
    return buf.getvalue()


def test_a_later_release_is_fetched_from_the_server_said_unverified_and_read(server, tmp_path, monkeypatch, capsys):
    _Handler.payload = _release_zip(tmp_path)
    declared = download.DATASETS["ml-latest-small"][0]
    monkeypatch.setitem(download.DATASETS, "ml-latest-small",
                        [Remote(declared.name, f"{server}/ml-latest-small.zip", declared.md5)])
    out = tmp_path / "raw"
    cli.main(["fetch", "--dataset", "ml-latest-small", "--out", str(out), "--cache", str(tmp_path / "cache")])
    stdout = capsys.readouterr().out
    assert "ml-latest-small.zip: no published checksum pinned" in stdout and "fetched unverified" in stdout
    assert f"make run RAW={out / 'ml-latest-small'}" in stdout
    assert len(_Handler.requests) == 1 and (tmp_path / "cache" / "ml-latest-small.zip").read_bytes() == _Handler.payload
    fmt, users, movies, ratings = movielens.read_movielens(out / "ml-latest-small", Rejects())
    assert fmt == "ml-latest-small" and movielens.detect_format(out) == "ml-latest-small"
    assert 3.5 in set(ratings["rating"]) and len(users) == raw_fixtures.HALF_USERS

