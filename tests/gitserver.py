"""Git repositories served over https on this machine's loopback, for the
environment builder's tests (issue 15): git's "dumb" http protocol (plain files,
`git update-server-info`), a certificate for 127.0.0.1 from a CA made for the
test. Nothing else is served, and nothing is fetched from anywhere else.
"""

from __future__ import annotations

import functools
import http.server
import ssl
import subprocess
import threading
from pathlib import Path

LOOPBACK = "127.0.0.1"
GIT_IDENTITY = ["-c", "user.name=Course Admin", "-c", "user.email=admin@example.org"]


def _run(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(
        args, cwd=cwd, check=True, capture_output=True, text=True, timeout=60
    ).stdout.strip()


def make_certificates(folder: Path) -> tuple[Path, Path, Path]:
    """(ca.pem, server.pem, server.key): a CA, and a certificate for 127.0.0.1 from it."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_key, ca = folder / "ca.key", folder / "ca.pem"
    key, csr, cert = folder / "server.key", folder / "server.csr", folder / "server.pem"
    _run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=swarmhub test git CA", "-keyout", str(ca_key), "-out", str(ca))  # fmt: skip
    _run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={LOOPBACK}",
         "-keyout", str(key), "-out", str(csr))  # fmt: skip
    ext = folder / "san.ext"
    ext.write_text(f"subjectAltName=IP:{LOOPBACK}\n")
    _run("openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
         "-CAcreateserial", "-days", "2", "-extfile", str(ext), "-out", str(cert))  # fmt: skip
    return ca, cert, key


def https_server(
    root: Path, cert: Path, key: Path, host: str, port: int
) -> http.server.ThreadingHTTPServer:
    """Files of `root` (bare repositories) over https, with that certificate."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer((host, port), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    return httpd


class GitServer:
    def __init__(self, folder: Path) -> None:
        self.root = folder / "repos"
        self.root.mkdir(parents=True)
        self.ca, cert, key = make_certificates(folder / "tls")
        self.httpd = https_server(self.root, cert, key, LOOPBACK, 0)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, name: str) -> str:
        return f"https://{LOOPBACK}:{self.port}/{name}.git"

    def add_repo(self, name: str, files: dict[str, str], tag: str | None = None) -> str:
        return add_repo(self.root, name, files, tag)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def add_repo(root: Path, name: str, files: dict[str, str], tag: str | None = None) -> str:
    """A bare repository root/NAME.git of one commit holding `files` (on branch main,
    and `tag`); its commit. Called again, a new commit on top."""
    work = root.parent / "work" / name
    if not work.exists():
        work.mkdir(parents=True)
        _run("git", "init", "-q", "-b", "main", cwd=work)
    for rel, text in files.items():
        path = work / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        if rel == "postBuild":
            path.chmod(0o755)
    _run("git", "add", "-A", cwd=work)
    _run("git", *GIT_IDENTITY, "commit", "-q", "-m", f"{name}: {sorted(files)}", cwd=work)
    if tag:
        _run("git", *GIT_IDENTITY, "tag", "-a", "-m", tag, tag, cwd=work)
    bare = root / f"{name}.git"
    if not bare.exists():
        _run("git", "clone", "-q", "--bare", str(work), str(bare))
    else:
        _run("git", "push", "-q", "--tags", str(bare), "main", cwd=work)
    _run("git", "update-server-info", cwd=bare)
    return _run("git", "rev-parse", "HEAD", cwd=work)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


if __name__ == "__main__":
    # a git server of its own, e.g. in a container on the trial's network:
    # python3 gitserver.py ROOT CERT KEY HOST PORT
    import sys

    root_, cert_, key_, host_, port_ = sys.argv[1:6]
    https_server(Path(root_), Path(cert_), Path(key_), host_, int(port_)).serve_forever()
