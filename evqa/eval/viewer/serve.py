"""Serving a report folder on this machine (`evqa view --serve`): Python's `http.server`, 127.0.0.1 only."""

from __future__ import annotations

import functools
import os
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from evqa.errors import ConfigError


class _QuietHandler(SimpleHTTPRequestHandler):
    """Serves files without one log line per request (a report page asks for hundreds of thumbnails)."""

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass


def make_server(folder: str | os.PathLike, port: int = 8000) -> ThreadingHTTPServer:
    """An HTTP server for `folder` on 127.0.0.1:`port` (0 = any free port); call `serve_forever()`.

    Raises ConfigError when the folder holds no index.html or the port cannot be bound.
    """
    folder = Path(folder)
    if not (folder / "index.html").is_file():
        raise ConfigError(f"no index.html in {folder}: nothing to serve", field="--out")
    handler = functools.partial(_QuietHandler, directory=str(folder))
    try:
        return ThreadingHTTPServer(("127.0.0.1", int(port)), handler)
    except OSError as err:
        raise ConfigError(
            f"cannot listen on 127.0.0.1:{port} ({err.strerror or err})", field="--port"
        ) from None


def server_url(server: ThreadingHTTPServer) -> str:
    """http://127.0.0.1:<port>/index.html of a running server."""
    return f"http://127.0.0.1:{server.server_address[1]}/index.html"
