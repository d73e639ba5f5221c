"""Serving a WSGI app on a unix socket with chosen permissions.

The server is werkzeug's threaded one (Flask already depends on werkzeug): restuser
has one client, the hub, and answers in milliseconds, so a production WSGI server
would add a dependency and nothing else.
"""

from __future__ import annotations

import contextlib
import grp
import os
import socket
import stat
from pathlib import Path

from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

LISTEN_BACKLOG = 64


def bind_unix_socket(path: Path, mode: int, group: str | None = None) -> socket.socket:
    """A listening unix socket at `path` with exactly `mode` (and `group`).

    The file gets its owner, group and mode before listen(), so there is no moment in
    which somebody else could connect.
    """
    if path.is_symlink() or (path.exists() and not stat.S_ISSOCK(path.stat().st_mode)):
        raise FileExistsError(f"{path} exists and is not a socket; not replacing it")
    # a socket left by a previous run that did not stop cleanly
    path.unlink(missing_ok=True)
    gid = grp.getgrnam(group).gr_gid if group else -1
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        # the umask applies at bind(): the file never has more permissions than `mode`
        old_umask = os.umask(0o777 & ~mode)
        try:
            sock.bind(str(path))
        finally:
            os.umask(old_umask)
        os.chown(path, -1, gid)
        os.chmod(path, mode)
        sock.listen(LISTEN_BACKLOG)
    except BaseException:
        sock.close()
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        raise
    return sock


def make_unix_server(app: Flask, path: Path, mode: int, group: str | None = None) -> BaseWSGIServer:
    """A threaded WSGI server for `app`, listening on the unix socket `path`."""
    sock = bind_unix_socket(path, mode, group)
    try:
        # werkzeug serves a socket it is given by its descriptor, which it duplicates
        return make_server(f"unix://{path}", 0, app, threaded=True, fd=sock.fileno())
    finally:
        sock.close()
