"""The download helper, against a local HTTP server on 127.0.0.1 (never the internet)."""

from __future__ import annotations

import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from slowfast_lab.__main__ import main
from slowfast_lab.weights import OFFICIAL_FILES, DownloadError, download

NAME = "SLOWFAST_8x8_R50.pkl"
PAYLOAD = bytes(range(256)) * 4096  # 1 MiB


class Server:
    """Serves PAYLOAD at every official path; `mode` makes it misbehave on purpose."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.requests = 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                server.requests += 1
                if server.mode == "missing" or not self.path.endswith(NAME):
                    self.send_error(404, "Not Found")
                    return
                body = PAYLOAD[: len(PAYLOAD) // 2] if server.mode == "truncated" else PAYLOAD
                self.send_response(200)
                self.send_header("Content-Length", str(len(PAYLOAD)))
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


def test_downloads_verifies_and_records_hash(server: Server, tmp_path: Path) -> None:
    path = download(NAME, tmp_path, base_url=server.url, progress=False)
    assert path == tmp_path / NAME and path.read_bytes() == PAYLOAD
    digest = hashlib.sha256(PAYLOAD).hexdigest()
    assert (tmp_path / f"{NAME}.sha256").read_text().split()[0] == digest
    assert leftovers(tmp_path) == [NAME, f"{NAME}.sha256"]  # no temporary file left
    # A second call finds the verified copy and does not fetch again.
    download(NAME, tmp_path, base_url=server.url, progress=False)
    assert server.requests == 1


def test_truncated_download_leaves_no_file(server: Server, tmp_path: Path) -> None:
    server.mode = "truncated"
    with pytest.raises((DownloadError, OSError)):
        download(NAME, tmp_path, base_url=server.url, progress=False)
    assert leftovers(tmp_path) == []


def test_wrong_hash_is_refused_and_not_kept(server: Server, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="does not match the expected"):
        download(NAME, tmp_path, base_url=server.url, sha256="0" * 64, progress=False)
    assert leftovers(tmp_path) == []


def test_server_errors_and_no_network_are_explained(server: Server, tmp_path: Path) -> None:
    server.mode = "missing"
    with pytest.raises(DownloadError, match="404"):
        download(NAME, tmp_path, base_url=server.url, progress=False)
    server.close()  # nothing listens there any more: like having no internet
    with pytest.raises(DownloadError, match="could not reach .* copy it to"):
        download(NAME, tmp_path, base_url=server.url, progress=False, timeout=2)


def test_unknown_name_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="SLOWFAST_4x16_R50.pkl"):
        download("SLOWFAST_R50.pkl", tmp_path, base_url="http://127.0.0.1:9/")


def test_command_line(server: Server, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["weights", "download", NAME, "--to", str(tmp_path), "--base-url", server.url]) == 0
    assert "slowfast_8x8_r50" in capsys.readouterr().out
    assert (tmp_path / NAME).read_bytes() == PAYLOAD
    assert main(["weights", "list"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in OFFICIAL_FILES)
    server.mode = "missing"
    assert (
        main(["weights", "download", NAME, "--to", str(tmp_path / "x"), "--base-url", server.url])
        == 1
    )
    assert "404" in capsys.readouterr().err
