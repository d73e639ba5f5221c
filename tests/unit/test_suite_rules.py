"""The suite's own rules (tests/conftest.py), run on a throwaway test file:
a skip fails a CI run, and a test that outlives its tier's limit fails
instead of hanging the run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_pytest(tmp_path: Path, source: str, ci: bool) -> subprocess.CompletedProcess:
    folder = tmp_path / "tests" / "unit"
    folder.mkdir(parents=True)
    (folder / "test_throwaway.py").write_text(source)
    env = {**os.environ, "CI": "true" if ci else "false"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.conftest", "-q", str(folder)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


SKIPPING = "import pytest\n\ndef test_a():\n    pytest.skip('no reason')\n"


def test_a_skip_fails_the_run_in_ci(tmp_path):
    result = run_pytest(tmp_path, SKIPPING, ci=True)
    assert result.returncode == 1, result.stdout
    assert "1 test(s) skipped" in result.stdout and "none may be" in result.stdout


def test_a_skip_is_allowed_outside_ci(tmp_path):
    result = run_pytest(tmp_path, SKIPPING, ci=False)
    assert result.returncode == 0, result.stdout


def test_a_test_past_its_limit_fails_and_the_run_goes_on(tmp_path):
    source = (
        "import time, pytest\n\n"
        "@pytest.mark.timeout(1, func_only=True)\n"
        "def test_hangs():\n    time.sleep(30)\n\n"
        "def test_after():\n    pass\n"
    )
    result = run_pytest(tmp_path, source, ci=True)
    assert result.returncode == 1
    assert "1 failed, 1 passed" in result.stdout
    assert "Timeout" in result.stdout
