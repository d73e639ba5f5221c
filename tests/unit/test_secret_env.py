"""secret_env: a sidecar's token comes from a mounted file, not its container's Env."""

import subprocess
import sys

import pytest

from swarmhub.common.secret_env import SecretEnvError, parse_args, read_secrets


def run(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "swarmhub.common.secret_env", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=30,
    )


def test_the_command_sees_the_files_content_and_nothing_else_changes(tmp_path):
    token = tmp_path / "token"
    token.write_text("s3cret-token\n")
    done = run(f"HUB_TOKEN={token}", "--", "sh", "-c", 'printf "%s|%s" "$HUB_TOKEN" "$HOME"')
    assert done.returncode == 0, done.stderr
    value, home = done.stdout.split("|")
    assert value == "s3cret-token" and home  # trailing newline dropped, HOME kept


@pytest.mark.parametrize(
    "args, message",
    [
        (["X=/f", "cmd"], "usage"),
        (["lower=/f", "--", "cmd"], "not NAME=FILE"),
        (["X=", "--", "cmd"], "not NAME=FILE"),
        (["X=/f", "--"], "no command"),
    ],
)
def test_bad_arguments_are_refused(args, message):
    with pytest.raises(SecretEnvError, match=message):
        parse_args(args)


def test_a_missing_or_empty_secret_stops_before_the_command(tmp_path):
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(SecretEnvError, match="one non-empty line"):
        read_secrets({"T": str(tmp_path / "empty")})
    done = run(f"T={tmp_path}/missing", "--", "touch", str(tmp_path / "ran"))
    assert done.returncode == 1 and "cannot read" in done.stderr and "missing" in done.stderr
    assert not (tmp_path / "ran").exists()
    assert "s3cret" not in done.stderr
