"""Issue 9: every script/bench mode runs once, small, so none can rot. Their
figures are printed for the log, never asserted (no timing threshold in a
test); a bench that fails or prints no ratio fails here.

script/bench spawn needs the trial cluster: tests/cluster/test_bench.py; burst and term
run on it too (tests/cluster/test_trial_*.py); here only term's refusals of bad input."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def bench(*args: str) -> str:
    proc = subprocess.run(
        ["./script/bench", *args], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"script/bench {' '.join(args)} failed:\n{output[-4000:]}"
    print(f"\nscript/bench {' '.join(args)}:\n{proc.stdout}")
    return proc.stdout


RATIO = r"\d+\.\d+x"


def test_backup_bench_runs_small():
    # in its default work folder (removed after): gpg's socket path in a pytest
    # tmp_path is longer than a Unix socket's 108 characters
    out = bench("backup", "--size-mb", "2", "--files", "40")
    for step in ("full", "incremental", "restore"):
        assert re.search(rf"{step}.*{RATIO}", out), f"no {step} ratio in:\n{out}"


def test_stats_bench_runs_small():
    out = bench("stats", "-n", "1", "--users", "3", "--servers", "1")
    assert re.search(rf"poll ratio .*{RATIO}", out), out


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (
            ["--servers", "5", "--users", "2"],
            "--servers takes a number of servers (0 to --users, 2)",
        ),
        (["--users", "0"], "--users takes a number of users (1 to 99999), not '0'"),
        (["--rate", "0"], "--rate takes servers per second (more than 0), not '0'"),
        (["--prefix", "Term"], "--prefix takes lowercase letters and digits"),
        (["--sever", "3"], "unknown option --sever"),
    ],
)
def test_term_bench_refuses_what_it_cannot_run_before_touching_anything(args, complaint):
    proc = subprocess.run(
        ["./script/bench", "term", *args], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode != 0
    assert complaint in proc.stderr, proc.stderr
    assert "deployed" not in proc.stdout + proc.stderr
