"""A node's part of the hub's image jobs (node_image_job.py), against a stand-in
engine on a unix socket: the pull sends the node's own registry login and fails
when the engine's stream reports an error; the removal keeps an image in use."""

from __future__ import annotations

import base64
import http.server
import json
import socketserver
import threading

import pytest

from swarmhub.hub import node_image_job as job

IMAGE = "10.213.7.11:5000/swarmhub/env-pandas@sha256:" + "b" * 64


class Engine(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True

    def __init__(self, path: str) -> None:
        self.requests: list[tuple[str, str, dict]] = []
        self.answer: tuple[int, str] = (200, "")
        super().__init__(path, EngineHandler)


class EngineHandler(http.server.BaseHTTPRequestHandler):
    def address_string(self) -> str:
        return "engine"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def _answer(self) -> None:
        self.server.requests.append((self.command, self.path, dict(self.headers)))  # type: ignore[attr-defined]
        status, body = self.server.answer  # type: ignore[attr-defined]
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    do_POST = _answer
    do_DELETE = _answer


@pytest.fixture
def engine(tmp_path, monkeypatch):
    path = str(tmp_path / "docker.sock")
    server = Engine(path)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    login = tmp_path / "config.json"
    auth = base64.b64encode(b"swarmhub-pull:s3cret").decode()
    login.write_text(json.dumps({"auths": {"10.213.7.11:5000": {"auth": auth}}}))
    monkeypatch.setattr(job, "ENGINE_SOCKET", path)
    monkeypatch.setattr(job, "LOGIN_FILE", str(login))
    yield server
    server.shutdown()
    server.server_close()


def test_a_pull_sends_the_nodes_own_login_for_that_registry(engine, capsys):
    engine.answer = (200, '{"status":"Pulling"}\n{"status":"Digest: sha256:bb"}\n')
    assert job.pull(IMAGE) == 0
    method, path, headers = engine.requests[0]
    assert (method, path.split("?")[0]) == ("POST", "/images/create")
    assert "fromImage=10.213.7.11%3A5000%2Fswarmhub%2Fenv-pandas%40sha256%3A" in path
    login = json.loads(base64.urlsafe_b64decode(headers["X-Registry-Auth"]))
    assert login == {"username": "swarmhub-pull", "password": "s3cret",
                     "serveraddress": "10.213.7.11:5000"}  # fmt: skip
    assert "pulled" in capsys.readouterr().out


def test_a_pull_the_engine_reports_failed_in_its_stream_fails(engine, capsys):
    engine.answer = (200, '{"status":"Pulling"}\n{"error":"manifest unknown"}\n')
    assert job.pull(IMAGE) == 1
    assert "manifest unknown" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("status", "code", "said"),
    [(200, 0, "not on this node"), (404, 0, "not on this node"), (409, 0, "still in use"),
     (500, 1, "removal of")],
)  # fmt: skip
def test_a_removal_keeps_an_image_in_use_and_reports_other_failures(
    engine, capsys, status, code, said
):
    engine.answer = (status, '{"message":"x"}')
    assert job.remove(IMAGE) == code
    method, path, _ = engine.requests[0]
    assert (method, path) == ("DELETE", f"/images/{IMAGE}")
    out = capsys.readouterr()
    assert said in out.out + out.err
