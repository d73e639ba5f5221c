"""`python -m swarmhub.stats`: parsing, and errors that say what to do."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from swarmhub.stats import open_db
from swarmhub.stats.cli import build_parser, main


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "swarmhub.stats", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_help_lists_the_commands() -> None:
    result = run("--help")
    assert result.returncode == 0
    for command in ("poll", "web", "serve", "report"):
        assert command in result.stdout


def test_report_help_documents_the_rules() -> None:
    result = run("report", "--help")
    assert result.returncode == 0
    assert "active time" in result.stdout
    assert "poll interval" in result.stdout


def test_defaults_are_the_deployed_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "SWARMHUB_STATS_DB",
        "SWARMHUB_STATS_INTERVAL_MINUTES",
        "JUPYTERHUB_SERVICE_PREFIX",
    ):
        monkeypatch.delenv(name, raising=False)
    args = build_parser().parse_args(["serve"])
    assert args.db == "/srv/stats/db/activity.sqlite"
    assert (args.interval, args.retention_days, args.port) == (5.0, 365, 8080)
    assert args.prefix == "/services/stats/"


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWARMHUB_STATS_INTERVAL_MINUTES", "2")
    monkeypatch.setenv("SWARMHUB_STATS_RETENTION_DAYS", "30")
    monkeypatch.setenv("SWARMHUB_STATS_DB", "/tmp/x.sqlite")
    monkeypatch.setenv("SWARMHUB_STATS_WINDOW_MINUTES", "")
    args = build_parser().parse_args(["poll"])
    assert (args.interval, args.retention_days, args.db) == (2.0, 30, "/tmp/x.sqlite")
    assert args.window is None  # empty: the interval
    monkeypatch.setenv("SWARMHUB_STATS_WINDOW_MINUTES", "7")
    assert build_parser().parse_args(["serve"]).window == 7.0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["poll", "--interval", "0"], "must be greater than 0"),
        (["poll", "--interval", "soon"], "is not a number"),
        (["web", "--port", "70000"], "is not a TCP port"),
        (["report", "users", "--since", "yesterday"], "is not a date (2026-11-30)"),
        (["report", "sometimes"], "invalid choice"),
        (["report", "active", "--per", "week"], "invalid choice"),
    ],
)
def test_bad_arguments_are_refused_with_the_reason(
    argv: list[str], message: str, capsys: pytest.CaptureFixture
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_report_on_a_missing_database_says_where_it_looked(tmp_path: Path) -> None:
    missing = tmp_path / "nope.sqlite"
    result = run("report", "users", "--db", str(missing))
    assert result.returncode == 1
    assert f"no activity database at {missing}" in result.stderr
    assert "--db" in result.stderr
    assert not missing.exists()  # no empty database made by a typo


def test_report_range_backwards_is_an_error(tmp_path: Path) -> None:
    db = tmp_path / "a.sqlite"
    open_db(db).dispose()
    result = run(
        "report", "users", "--db", str(db), "--since", "2026-11-20", "--until", "2026-11-01"
    )
    assert result.returncode == 1
    assert "must be before --until" in result.stderr


def test_poll_without_hub_settings_exits_nonzero_naming_the_variable(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "JUPYTERHUB_API_TOKEN": "abc"}
    result = run("poll", "--once", "--db", str(tmp_path / "a.sqlite"), env=env)
    assert result.returncode == 1
    assert "JUPYTERHUB_API_URL is not set" in result.stderr


def test_poll_once_against_no_hub_fails_without_showing_the_token(tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "JUPYTERHUB_API_URL": "http://127.0.0.1:9/hub/api",
        "JUPYTERHUB_API_TOKEN": "very-secret-token-123",
    }
    result = run("poll", "--once", "--db", str(tmp_path / "a.sqlite"), env=env)
    assert result.returncode == 1
    assert "did not answer" in result.stderr
    assert "very-secret-token-123" not in result.stderr + result.stdout


def test_database_folder_that_cannot_be_made_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    env = {"PATH": "/usr/bin:/bin", "JUPYTERHUB_API_URL": "http://x/", "JUPYTERHUB_API_TOKEN": "t"}
    result = run("poll", "--once", "--db", str(blocker / "db" / "a.sqlite"), env=env)
    assert result.returncode == 1
    assert "cannot start" in result.stderr


# -- the sidecar's process (`serve`): a hub that is down is waited out, a refused token
# stops it ------------------------------------------------------------------------------


class _Refusing(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.send_response(403)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"status": 403, "message": "forbidden"}')

    def log_message(self, *args: object) -> None:
        pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(tmp_path: Path, api_url: str) -> tuple[subprocess.Popen[str], int]:
    port = _free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "JUPYTERHUB_API_URL": api_url,
        "JUPYTERHUB_API_TOKEN": "sidecar-secret-token",
        "JUPYTERHUB_CLIENT_ID": "service-stats",
        "JUPYTERHUB_SERVICE_NAME": "stats",
        "SWARMHUB_STATS_DB": str(tmp_path / "db" / "activity.sqlite"),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "swarmhub.stats", "serve", "--host", "127.0.0.1"]
        + ["--port", str(port), "--interval", "60"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return process, port


def _wait(probe: Callable[[], bool], timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():
            return True
        time.sleep(0.1)
    return False


def test_serve_stops_with_an_error_when_the_hub_refuses_its_token(tmp_path: Path) -> None:
    hub = ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    threading.Thread(target=hub.serve_forever, daemon=True).start()
    try:
        process, _ = _serve(tmp_path, f"http://127.0.0.1:{hub.server_port}/hub/api")
        output, _ = process.communicate(timeout=60)
    finally:
        hub.shutdown()
    assert process.returncode == 1, output
    assert "refused the stats token (403)" in output
    assert "sidecar-secret-token" not in output


def test_serve_keeps_serving_while_the_hub_is_down(tmp_path: Path) -> None:
    process, port = _serve(tmp_path, "http://127.0.0.1:9/hub/api")
    try:

        def healthy() -> bool:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/services/stats/healthz", timeout=2
                ) as reply:
                    return reply.read() == b"ok"
            except OSError:
                return False

        assert _wait(healthy), "the page never answered"
        assert process.poll() is None
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    assert "poll skipped: hub API http://127.0.0.1:9/hub/api/users did not answer" in output
    assert process.returncode == 0  # SIGTERM is a clean stop
