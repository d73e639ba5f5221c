"""Issue 12: script/bench term runs once, small (120 hub users, 4 of them with a
server of the trial's bench environment), on the quick start's trial, so it
cannot rot. Its figures are printed, never asserted; what is asserted is that each
was measured, no start failed, and the bench took away everything it made: the
servers, the hub's users, the accounts and homes, and the bench environment."""

from __future__ import annotations

import json
import re
import shlex

import yaml

from tests.cluster import trial

USERS, SERVERS = 120, 4
BENCH = ["./script/bench", "term", "--users", str(USERS), "--servers", str(SERVERS)]
BENCH += ["--prefix", "citerm"]
SECONDS = r"\d+\.\d+ s"


def hub_user_names() -> list[str]:
    """The hub's users (the first 200), through its API with the operator's token."""
    script = (
        "import json, pathlib, requests; "
        "s = json.loads(pathlib.Path('/etc/swarmhub/hub.json').read_text()); "
        "t = pathlib.Path(s['ops_token_file']).read_text().strip(); "
        "u = 'http://127.0.0.1:%d/hub/api/users' % s['hub_api_port']; "
        "r = requests.get(u, params={'limit': 200}, headers={'Authorization': 'token ' + t}); "
        "j = r.json(); users = j['items'] if isinstance(j, dict) else j; "
        "print(json.dumps([x['name'] for x in users]))"
    )
    return json.loads(
        trial.on_host("hub", f"docker exec jupyterhub python -c {shlex.quote(script)}")
    )


def test_term_bench_runs_once_and_takes_everything_away(quick_start):
    proc = trial.run(BENCH, timeout=1200)
    print(f"\n{' '.join(BENCH)}:\n{proc.stdout}")
    out = proc.stdout
    assert f"{USERS} users added to the hub in " in out
    assert re.search(rf"{SERVERS} servers at 5\.0/s, each .*\({SERVERS} ok, 0 failed\)", out), out
    assert re.search(r"hub API p50 at size / before: \d+\.\d+x", out), out
    assert re.search(r"hub resident memory, at size\s+\d+ MiB", out), out
    assert re.search(rf"cull pass \(.*\): {SECONDS}", out), out
    assert re.search(rf"stats poll \(.*\): {SECONDS}", out), out
    # the stats sidecar's own log line; other users' servers (the quick start's) count too
    polled = re.search(r"poll: (\d+) users, (\d+) servers", proc.stdout + proc.stderr)
    assert polled, proc.stderr[-4000:]
    assert int(polled[1]) >= USERS and int(polled[2]) >= SERVERS, polled[0]
    assert f"{USERS} users removed from the hub in " in out

    assert not [n for n in hub_user_names() if n.startswith("citerm")]
    for i in range(1, SERVERS + 1):
        name = f"citerm{i:05d}"
        assert trial.running_task(f"jupyter-{name}") is None, f"the bench left {name}'s server"
        assert trial.on_host("hub", f"getent passwd {name} || echo gone").strip() == "gone"
        assert trial.on_host("hub", f"test -e /home/{name} && echo kept || echo gone").strip() == (
            "gone"
        )
    settings = json.loads(trial.on_host("hub", "cat /etc/swarmhub/hub.json"))
    trial_vars = yaml.safe_load(
        (trial.ROOT / "inventory/local/group_vars/all/main.yml").read_text()
    )
    assert [e["name"] for e in settings["environments"]] == [
        e["name"] for e in trial_vars["trial_environments"]
    ]
