"""restuser served on a real unix socket, called the way the hub will call it."""

from __future__ import annotations

import grp
import http.client
import json
import os
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from test_restuser_useradd import make_root

from swarmhub.restuser import bind_unix_socket, create_app, make_unix_server
from swarmhub.restuser.__main__ import config_from_args, parse_args


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over AF_UNIX: no extra dependency for talking to a socket file."""

    def __init__(self, path: Path) -> None:
        super().__init__("restuser")
        self.socket_path = str(path)

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.socket_path)


def call(path: Path, method: str, url: str) -> tuple[int, dict[str, Any]]:
    connection = UnixHTTPConnection(path)
    try:
        connection.request(method, url)
        response = connection.getresponse()
        assert response.getheader("Content-Type") == "application/json"
        return response.status, json.loads(response.read())
    finally:
        connection.close()


@pytest.fixture
def config(tmp_path):
    return make_root(tmp_path / "root")


@pytest.fixture
def serve(tmp_path, config):
    """Start restuser on a socket in tmp_path; stopped again after the test."""
    servers = []

    def start(mode: int = 0o660, group: str | None = None) -> Path:
        path = tmp_path / "run" / "restuser.sock"
        path.parent.mkdir(exist_ok=True)
        server = make_unix_server(create_app(config), path, mode, group)
        # a short poll keeps shutdown() quick; it does not affect what is tested
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        thread.start()
        servers.append((server, thread))
        return path

    yield start
    for server, thread in servers:
        server.shutdown()
        thread.join()


def test_post_and_get_over_the_socket(serve, config):
    sock = serve()
    status, created = call(sock, "POST", "/users/dora")
    assert status == 201
    assert created["name"] == "dora" and created["uid"] >= 1000
    assert call(sock, "GET", "/users/dora") == (200, created)
    assert call(sock, "POST", "/users/dora") == (200, created)
    assert config.host_path("/home/dora/README.md").exists()


def test_errors_over_the_socket_are_json(serve):
    sock = serve()
    status, body = call(sock, "POST", "/users/..%2Fetc")
    assert (status, body["error"]) == (400, "invalid-name")
    assert body["detail"].startswith("'../etc' is not a valid user name")
    assert call(sock, "GET", "/users/zed") == (
        404,
        {"error": "no-such-user", "detail": "there is no user 'zed'"},
    )
    assert call(sock, "POST", "/users/root")[0] == 403
    status, body = call(sock, "DELETE", "/users/dora")
    assert (status, body["error"]) == (405, "method-not-allowed")
    status, body = call(sock, "GET", "/elsewhere")
    assert (status, body["error"]) == (404, "not-found")


@pytest.mark.parametrize("mode", [0o660, 0o600])
def test_the_socket_file_has_the_requested_mode(serve, mode):
    sock = serve(mode=mode)
    st = sock.lstat()
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == mode


def test_the_socket_file_gets_the_requested_group(serve):
    # any group of this machine other than root's will do; only the socket file changes
    group = next(g for g in grp.getgrall() if g.gr_gid != 0)
    sock = serve(mode=0o660, group=group.gr_name)
    assert sock.lstat().st_gid == group.gr_gid
    assert call(sock, "GET", "/users/zed")[0] == 404


def test_simultaneous_posts_for_one_new_name_make_one_user(serve, config):
    sock = serve()
    requests = 8
    start = threading.Barrier(requests)
    answers: list[tuple[int, dict[str, Any]]] = []

    def post() -> None:
        start.wait()
        answers.append(call(sock, "POST", "/users/dora"))

    threads = [threading.Thread(target=post) for _ in range(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(status for status, _ in answers) == [200] * (requests - 1) + [201]
    assert len({json.dumps(body, sort_keys=True) for _, body in answers}) == 1
    lines = config.host_path("/etc/passwd").read_text().splitlines()
    assert len([line for line in lines if line.startswith("dora:")]) == 1


def test_simultaneous_posts_for_different_names_all_succeed(serve, config):
    sock = serve()
    names = [f"student{n}" for n in range(8)]
    start = threading.Barrier(len(names))
    answers: dict[str, tuple[int, dict[str, Any]]] = {}

    def post(name: str) -> None:
        start.wait()
        answers[name] = call(sock, "POST", f"/users/{name}")

    threads = [threading.Thread(target=post, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert {name: status for name, (status, _) in answers.items()} == dict.fromkeys(names, 201)
    assert len({body["uid"] for _, body in answers.values()}) == len(names)


def test_a_stale_socket_is_replaced(tmp_path):
    path = tmp_path / "restuser.sock"
    bind_unix_socket(path, 0o660).close()  # closed without removing the file, like a crash
    assert stat.S_ISSOCK(path.lstat().st_mode)
    bind_unix_socket(path, 0o600).close()
    assert stat.S_IMODE(path.lstat().st_mode) == 0o600


@pytest.mark.parametrize("kind", ["file", "symlink"])
def test_a_file_in_the_way_is_not_replaced(tmp_path, kind):
    path = tmp_path / "restuser.sock"
    if kind == "file":
        path.write_text("precious\n")
    else:
        path.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(FileExistsError, match="exists and is not a socket"):
        bind_unix_socket(path, 0o660)
    assert path.is_symlink() if kind == "symlink" else path.read_text() == "precious\n"


def test_the_command_line(tmp_path):
    args = parse_args(
        ["--socket", "/run/restuser/restuser.sock", "--mode", "0600", "--reserve", "teacher"]
    )
    assert args.socket == Path("/run/restuser/restuser.sock")
    assert (args.mode, args.group) == (0o600, None)
    config = config_from_args(args)
    assert "teacher" in config.reserved_names and "root" in config.reserved_names
    assert (config.prefix, config.home_root, config.skeleton) == ("", "/home", "/srv/skeldir")
    assert config.min_uid is None
    assert parse_args(["--socket", "s"]).mode == 0o660


@pytest.mark.parametrize("mode", ["0999", "rw-rw----", "1777"])
def test_a_bad_mode_is_refused(mode, capsys):
    with pytest.raises(SystemExit):
        parse_args(["--socket", "s", "--mode", mode])
    assert "--mode" in capsys.readouterr().err


def test_python_m_swarmhub_restuser_serves_until_stopped(tmp_path, config):
    sock = tmp_path / "restuser.sock"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "swarmhub.restuser",
            "--socket",
            str(sock),
            "--mode",
            "0600",
            "--prefix",
            config.prefix,
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # it logs this line once the socket listens, so no waiting or polling is needed
        first_line = process.stderr.readline()
        assert f"restuser listening on {sock} (mode 0600, quotas off)" in first_line
        assert stat.S_IMODE(sock.lstat().st_mode) == 0o600
        status, body = call(sock, "POST", "/users/dora")
        assert status == 201
        process.terminate()
        _, rest = process.communicate(timeout=60)  # a guard against a hang, not a measure
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, rest
    assert "created user dora" in rest
    assert not os.path.lexists(sock)
