"""Issue 12: script/bench burst runs once, small (10 users at 5/s: their logins change
passwd more often than systemd's default start limit allowed the hub's copy of
it to follow), on the quick start's trial
(its shared-password login form is what the bench logs in through), so it
cannot rot. Its figures are printed, never asserted; a failed login or spawn
fails the bench, and so this test."""

from __future__ import annotations

import re

import yaml

from tests.cluster import trial

USERS = tuple(f"ciburst{i:03d}" for i in range(1, 11))
BENCH = ["./script/bench", "burst", "-n", "10", "--rate", "5", "--prefix", "ciburst"]
CPU_SHARES = yaml.safe_load((trial.ROOT / "roles/jupyterhub/defaults/main.yml").read_text())[
    "jupyterhub_cpu_shares"
]
RATIO = re.compile(r"burst spawn ratio \(hub p50 / bare p50\): \d+\.\d+x")


def test_burst_bench_runs_once_and_cleans_up(quick_start):
    proc = trial.run([*BENCH, "--remove-users"], timeout=900)
    print(f"\n{' '.join(BENCH)}:\n{proc.stdout}")
    assert RATIO.search(proc.stdout), proc.stdout
    assert "failures: 0" in proc.stdout
    assert re.search(r"image pulls on node1 during the bench: ", proc.stdout), proc.stdout
    for name in USERS:
        assert trial.running_task(f"jupyter-{name}") is None, f"the bench left {name}'s server"
        assert trial.on_host("hub", f"getent passwd {name} || echo gone").strip() == "gone"
        assert (
            trial.on_host("hub", f"test -e /home/{name} && echo kept || echo gone").strip()
            == "gone"
        )
    services = trial.on_host("hub", "docker service ls --format '{{.Name}}'").split()
    assert not [s for s in services if s.startswith("bench-burst-")], services
    # what kept the hub answering through the burst: its CPU before the servers'
    for container in ("jupyterhub", "jupyterhub-proxy"):
        shares = trial.on_host(
            "hub", f"docker inspect {container} --format '{{{{.HostConfig.CpuShares}}}}'"
        )
        assert int(shares) == CPU_SHARES, (container, shares)
