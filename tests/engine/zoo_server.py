"""A zoo on 127.0.0.1 for download tests: URL path -> bytes, served by a thread.

Test modules use it with `from tests.engine.zoo_server import ZooServer, zoo_server  # noqa: F401`
(the fixture is called `server`).
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from translator.zoo import find_entry


class ZooServer:
    """path -> bytes on 127.0.0.1 (`files`), under `base`."""

    def __init__(self) -> None:
        files: dict[str, bytes] = {}
        self.files = files

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
                pass

            def do_GET(self) -> None:
                body = files.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def serve(self, name: str, data: bytes) -> str:
        """Serve `data` as the zoo model `name`; its URL path."""
        path = find_entry(name, base=self.base).url.removeprefix(self.base)
        self.files[path] = data
        return path


@pytest.fixture(name="server")
def zoo_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[ZooServer]:
    """A running `ZooServer`, stopped after the test."""
    for var in ("no_proxy", "NO_PROXY"):  # requests to 127.0.0.1 must not go through a proxy
        monkeypatch.setenv(var, "*")
    s = ZooServer()
    s.thread.start()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()
    s.thread.join(5)
