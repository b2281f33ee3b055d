"""The download helper, against a local HTTP server on 127.0.0.1 (never the internet).

The server misbehaves on purpose (HTML pages, cut bodies, lying Content-Length, a chunked body cut
mid-way); whatever arrives, a good file already there must stay as it was, nothing half-written
may stay behind, and no unverified hash may be recorded.
"""

from __future__ import annotations

import errno
import hashlib
import http.server
import os
import pickle
import sys
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from slowfast_lab import weights
from slowfast_lab.__main__ import main
from slowfast_lab.weights import OFFICIAL_FILES, DownloadError, download

NAME = "SLOWFAST_8x8_R50.pkl"
# A small model-zoo-like pickle (about 1 MiB, so it streams in several blocks).
PAYLOAD = pickle.dumps(
    {
        "blobs": {
            "conv1_w": np.linspace(-1, 1, 8 * 3 * 7 * 7, dtype=np.float32).reshape(8, 3, 1, 7, 7),
            "res_conv1_bn_rm": np.linspace(0, 1, 1 << 18, dtype=np.float32),
        }
    },
    protocol=2,
)
HTML = b"<!DOCTYPE html><html><body>Please sign in to continue</body></html>\n" * 50
BAD_MODES = ["html", "html_as_binary", "cut_no_length", "short_length", "long_length", "chunk_cut"]


class Server:
    """Serves PAYLOAD at the official path of NAME; `mode` makes it misbehave on purpose."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.requests = 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                server.requests += 1
                mode = server.mode
                if mode == "missing" or not self.path.endswith(NAME):
                    self.send_error(404, "Not Found")
                    return
                if mode == "chunk_cut":  # HTTP/1.1 chunked body, connection dropped mid-way
                    self.protocol_version = "HTTP/1.1"
                    self.close_connection = True
                    self.send_response(200)
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    half = PAYLOAD[: len(PAYLOAD) // 2]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(half), half))
                    self.wfile.write(b"%x\r\n" % len(PAYLOAD))  # announced, never sent
                    return
                body, length, kind = PAYLOAD, len(PAYLOAD), "application/octet-stream"
                if mode == "html":
                    body, length, kind = HTML, len(HTML), "text/html; charset=utf-8"
                elif mode == "html_as_binary":
                    body, length = HTML, len(HTML)
                elif mode == "cut_no_length":
                    body, length = PAYLOAD[: len(PAYLOAD) // 3], None
                elif mode == "short_length":  # the client stops at Content-Length: a cut file
                    length = len(PAYLOAD) // 2
                elif mode == "long_length":
                    body = PAYLOAD[: len(PAYLOAD) // 2]
                self.send_response(200)
                self.send_header("Content-Type", kind)
                if length is not None:
                    self.send_header("Content-Length", str(length))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        if self.thread.is_alive():
            self.httpd.shutdown()
            self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    try:
        yield s
    finally:
        s.close()


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def fetch(server: Server, to: Path, **kwargs) -> Path:
    return download(NAME, to, base_url=server.url, progress=False, timeout=10, **kwargs)


def hand_copy(folder: Path) -> bytes:
    """A good copy placed by hand: intact, but no NAME.sha256 beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    good = pickle.dumps({"blobs": {"conv1_w": np.ones((8, 3, 1, 7, 7), np.float32)}}, protocol=2)
    (folder / NAME).write_bytes(good)
    return good


def test_downloads_verifies_and_records_hash(server: Server, tmp_path: Path) -> None:
    path = fetch(server, tmp_path)
    assert path == tmp_path / NAME and path.read_bytes() == PAYLOAD
    digest = hashlib.sha256(PAYLOAD).hexdigest()
    assert (tmp_path / f"{NAME}.sha256").read_text().split()[0] == digest
    assert leftovers(tmp_path) == [NAME, f"{NAME}.sha256"]  # no temporary file left
    # A second call finds the verified copy and does not fetch again.
    fetch(server, tmp_path)
    assert server.requests == 1


@pytest.mark.parametrize("mode", BAD_MODES)
def test_a_bad_answer_leaves_nothing(server: Server, tmp_path: Path, mode: str) -> None:
    server.mode = mode
    with pytest.raises(DownloadError, match="127.0.0.1") as err:
        fetch(server, tmp_path)
    assert "Traceback" not in str(err.value)
    assert leftovers(tmp_path) == []  # no file, no .part, no recorded hash


@pytest.mark.parametrize("mode", BAD_MODES)
def test_a_bad_answer_never_replaces_a_good_copy(server: Server, tmp_path: Path, mode: str) -> None:
    good = hand_copy(tmp_path)
    server.mode = mode
    with pytest.raises(DownloadError, match="(?i)nothing was replaced|not kept"):
        fetch(server, tmp_path, force=True)  # even when asked to replace it
    assert (tmp_path / NAME).read_bytes() == good
    assert leftovers(tmp_path) == [NAME]  # and no hash recorded for what arrived


def test_a_good_copy_made_by_hand_is_kept_without_fetching(server: Server, tmp_path: Path) -> None:
    good = hand_copy(tmp_path)
    with pytest.warns(UserWarning, match="kept; it is not verified"):
        assert fetch(server, tmp_path) == tmp_path / NAME
    assert server.requests == 0
    assert (tmp_path / NAME).read_bytes() == good and leftovers(tmp_path) == [NAME]
    # --force fetches, and a download that checks out replaces it and is recorded.
    fetch(server, tmp_path, force=True)
    assert (tmp_path / NAME).read_bytes() == PAYLOAD
    assert leftovers(tmp_path) == [NAME, f"{NAME}.sha256"]


def test_an_unusable_existing_file_is_left_alone(server: Server, tmp_path: Path) -> None:
    (tmp_path / NAME).write_bytes(HTML)  # e.g. a browser "download" of an error page
    with pytest.raises(DownloadError, match=f"{NAME} already exists and it is an HTML page"):
        fetch(server, tmp_path)
    assert server.requests == 0 and (tmp_path / NAME).read_bytes() == HTML


def test_a_copy_that_changed_since_it_verified_is_not_overwritten(
    server: Server, tmp_path: Path
) -> None:
    fetch(server, tmp_path)
    edited = PAYLOAD[:-1] + b"!"
    (tmp_path / NAME).write_bytes(edited)
    with pytest.raises(DownloadError, match="differs from the sha256 recorded"):
        fetch(server, tmp_path)
    assert (tmp_path / NAME).read_bytes() == edited and server.requests == 1
    fetch(server, tmp_path, force=True)
    assert (tmp_path / NAME).read_bytes() == PAYLOAD


def test_wrong_hash_is_refused_and_not_kept(server: Server, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="does not match the expected"):
        fetch(server, tmp_path, sha256="0" * 64)
    assert leftovers(tmp_path) == []
    with pytest.raises(ValueError, match="64 hexadecimal"):
        fetch(server, tmp_path, sha256="abc")


def test_to_an_existing_file_needs_force(server: Server, tmp_path: Path) -> None:
    mine = tmp_path / "notes.pkl"
    mine.write_bytes(b"my own notes")
    with pytest.raises(DownloadError, match="notes.pkl is an existing file.*--force"):
        fetch(server, mine)
    assert mine.read_bytes() == b"my own notes" and server.requests == 0
    assert fetch(server, mine, force=True) == mine and mine.read_bytes() == PAYLOAD


def test_an_impossible_or_read_only_folder_is_named(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "file").write_bytes(b"x")
    with pytest.raises(DownloadError, match="cannot create the folder .*file/sub"):
        fetch(server, tmp_path / "file" / "sub")
    # A read-only folder (simulated: the tests may run as root, who may write anywhere).
    real_open = os.open

    def read_only(path, flags, *args):
        if str(path).endswith(".part"):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(weights.os, "open", read_only)
    with pytest.raises(DownloadError, match=f"cannot write into {tmp_path}.*--to"):
        fetch(server, tmp_path)


def test_a_full_disk_replaces_nothing(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = hand_copy(tmp_path)

    def full(out, block) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(weights, "_write", full)
    with pytest.raises(DownloadError, match=f"disk is full while writing .*{NAME}.part"):
        fetch(server, tmp_path, force=True)
    assert (tmp_path / NAME).read_bytes() == good and leftovers(tmp_path) == [NAME]


def test_stale_part_files_of_killed_runs_are_cleaned_up(server: Server, tmp_path: Path) -> None:
    (tmp_path / f"{NAME}.part").write_bytes(b"half of a killed run")
    (tmp_path / f".{NAME}.k3j2.part").write_bytes(b"older versions named them like this")
    fetch(server, tmp_path)
    assert (tmp_path / NAME).read_bytes() == PAYLOAD
    assert leftovers(tmp_path) == [NAME, f"{NAME}.sha256"]


@pytest.mark.skipif(sys.platform == "win32", reason="no fcntl file locks on Windows")
def test_a_running_download_is_not_disturbed(server: Server, tmp_path: Path) -> None:
    import fcntl

    part = tmp_path / f"{NAME}.part"
    with open(part, "wb") as other:  # another process is writing it (holds the lock)
        other.write(b"in progress")
        other.flush()
        fcntl.flock(other.fileno(), fcntl.LOCK_EX)
        with pytest.raises(DownloadError, match="another download is writing"):
            fetch(server, tmp_path)
        assert part.read_bytes() == b"in progress"


def test_server_errors_and_no_network_are_explained(server: Server, tmp_path: Path) -> None:
    server.mode = "missing"
    with pytest.raises(DownloadError, match="404"):
        fetch(server, tmp_path)
    server.close()  # nothing listens there any more: like having no internet
    with pytest.raises(DownloadError, match="could not reach .* copy it to"):
        download(NAME, tmp_path, base_url=server.url, progress=False, timeout=2)


def test_unknown_name_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="SLOWFAST_4x16_R50.pkl"):
        download("SLOWFAST_R50.pkl", tmp_path, base_url="http://127.0.0.1:9/")


def test_command_line(server: Server, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    args = ["weights", "download", NAME, "--base-url", server.url]
    assert main([*args, "--to", str(tmp_path)]) == 0
    assert "slowfast_8x8_r50" in capsys.readouterr().out
    assert (tmp_path / NAME).read_bytes() == PAYLOAD
    assert main(["weights", "list"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in OFFICIAL_FILES)
    server.mode = "missing"
    assert main([*args, "--to", str(tmp_path / "x")]) == 1
    assert "404" in capsys.readouterr().err


def test_command_line_keeps_and_refuses_with_a_message(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    args = ["weights", "download", NAME, "--base-url", server.url, "--to"]
    hand_copy(tmp_path / "kept")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the note is printed, not left as a Python warning
        assert main([*args, str(tmp_path / "kept")]) == 0
    assert "note:" in capsys.readouterr().err and server.requests == 0
    mine = tmp_path / "mine.pkl"
    mine.write_bytes(b"mine")
    assert main([*args, str(mine)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error:") and "--force" in err and "Traceback" not in err
    server.mode = "html"
    assert main([*args, str(tmp_path / "kept"), "--force"]) == 1
    assert "HTML" in capsys.readouterr().err
    assert main([*args, str(mine), "--force"]) == 1 and mine.read_bytes() == b"mine"
    server.mode = "ok"
    assert main([*args, str(mine), "--force"]) == 0 and mine.read_bytes() == PAYLOAD
