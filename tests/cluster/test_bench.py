"""Issue 9: script/bench spawn runs once, small, on the trial cluster, so it
cannot rot. Its figures are printed, never asserted."""

from __future__ import annotations

import re

from tests.cluster import jupyter_ui, trial


def test_spawn_bench_runs_once(new_page):
    # the bench needs a user with an account and no running server: cara's
    # first login makes her account, and her server is stopped
    page = new_page()
    jupyter_ui.log_in(page, "cara@example.org")
    jupyter_ui.wait_for_lab(page, "cara")
    jupyter_ui.stop_server(page, "cara")

    proc = trial.run(["./script/bench", "spawn", "-n", "1", "--user", "cara"], timeout=900)
    print(f"\nscript/bench spawn -n 1:\n{proc.stdout}")
    assert re.search(r"spawn ratio \(hub p50 / bare p50\): \d+\.\d+x", proc.stdout), proc.stdout
    assert trial.running_task("jupyter-cara") is None, "the bench left cara's server running"
