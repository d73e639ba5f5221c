"""The docker role's templates: the engine's settings and the containers' firewall.

The firewall script runs here against stand-ins for iptables and ip6tables that
keep their rules in files: which rules it adds, that a second run adds none, and
that it is plain POSIX sh (run by dash).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import jinja2
import pytest
import yaml

ROLE = Path(__file__).resolve().parents[2] / "roles" / "docker"
CLUSTER = ["10.213.7.10", "10.213.7.11", "10.213.7.21", "10.213.7.22"]
HAS_IPV6 = Path("/proc/net/if_inet6").exists()


# A small inventory: the hub, a proxy and two nodes, each with its address.
HOSTS = {
    "proxy1": "10.213.7.10",
    "hub1": "10.213.7.11",
    "node1": "10.213.7.21",
    "node2": "10.213.7.22",
}
GROUPS = {"all": list(HOSTS), "proxy": ["proxy1"], "hub": ["hub1"], "nodes": ["node1", "node2"]}


def defaults(host: str = "hub1", **overrides):
    """The role's defaults as Ansible resolves them for `host` of the inventory above."""
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)

    def extract(name, container, key):  # Ansible's filter: container[name][key]
        value = container[name].get(key)
        return env.undefined(f"no {key}") if value is None else value

    env.filters["extract"] = extract
    hostvars = {name: {"ansible_host": address} for name, address in HOSTS.items()}
    context = {"inventory_hostname": host, "groups": GROUPS, "hostvars": hostvars}
    values = {}
    for key, value in yaml.safe_load((ROLE / "defaults" / "main.yml").read_text()).items():
        if isinstance(value, str) and value.startswith("{{") and value.endswith("}}"):
            value = env.compile_expression(value[2:-2].strip())(**context)
        values[key] = value
    values.update(**overrides)
    return values


def render(name: str, **variables) -> str:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    # the few Ansible filters the templates use
    env.filters["to_nice_json"] = lambda v: json.dumps(v, indent=4, sort_keys=True)
    env.filters["combine"] = lambda a, b: {**a, **b}
    env.filters["bool"] = bool
    return env.from_string((ROLE / "templates" / name).read_text()).render(**variables)


def test_nodes_turn_hardening_on_and_other_hosts_keep_the_defaults():
    for host in ("hub1", "proxy1"):
        values = defaults(host)
        assert values["docker_no_new_privileges"] is False
        assert values["docker_isolate_containers"] is False
        assert values["docker_blocked_destinations"] == []
    for host in ("node1", "node2"):
        values = defaults(host)
        assert values["docker_no_new_privileges"] is True
        assert values["docker_isolate_containers"] is True
        # every cluster host, the node itself included
        assert values["docker_blocked_destinations"] == list(HOSTS.values())


def test_engine_sets_no_new_privileges_only_where_asked():
    on = json.loads(render("daemon.json.j2", **defaults(docker_no_new_privileges=True)))
    assert on["no-new-privileges"] is True
    # the cluster's registry has TLS with the cluster's CA (roles/registry)
    assert on["insecure-registries"] == []
    assert on["log-opts"] == {"max-size": "20m", "max-file": "3"}
    off = json.loads(render("daemon.json.j2", **defaults()))
    assert "no-new-privileges" not in off


# --- the firewall script, run against stand-in iptables -----------------------------------

FAKE_IPTABLES = r"""#!/bin/sh
# Stand-in for iptables/ip6tables: rules as lines of $RULES_DIR/<tool>; -C, -I, -S
# (as "-A RULE", in the order given, unlike the real one's canonical order) and -D.
state="$RULES_DIR/$(basename "$0")"
touch "$state"
op=$1; chain=$2; shift 2
rule="$chain $*"
case $op in
  -C) grep -qxF -- "$rule" "$state" ;;
  -I) echo "$rule" >> "$state"; echo "$(basename "$0") -I $rule" >> "$RULES_DIR/log" ;;
  -S) grep -- "^$chain " "$state" | sed 's/^/-A /' ;;
  -D) grep -qxF -- "$rule" "$state" || exit 1
      grep -vxF -- "$rule" "$state" > "$state.new"; mv "$state.new" "$state"
      echo "$(basename "$0") -D $rule" >> "$RULES_DIR/log" ;;
  *) echo "unexpected $op" >&2; exit 2 ;;
esac
"""


@pytest.fixture
def firewall(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("iptables", "ip6tables"):
        path = bin_dir / tool
        path.write_text(FAKE_IPTABLES)
        path.chmod(0o755)
    rules = tmp_path / "rules"
    rules.mkdir()

    def run(**variables) -> dict[str, list[str]]:
        script = tmp_path / "swarmhub-firewall"
        script.write_text(render("swarmhub-firewall.j2", **defaults(**variables)))
        env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "RULES_DIR": str(rules)}
        subprocess.run([shutil.which("dash") or "sh", str(script)], env=env, check=True)
        log = rules / "log"
        added = log.read_text().splitlines() if log.exists() else []
        log.unlink(missing_ok=True)
        return {
            "added": added,
            "iptables": _lines(rules / "iptables"),
            "ip6tables": _lines(rules / "ip6tables"),
        }

    return run


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_the_script_is_posix_sh():
    script = render(
        "swarmhub-firewall.j2",
        **defaults(docker_blocked_destinations=CLUSTER, docker_isolate_containers=True),
    )
    assert script.startswith("#!/bin/sh\n")
    subprocess.run([shutil.which("dash") or "sh", "-n"], input=script, text=True, check=True)


def test_hub_and_proxy_hosts_get_no_rules(firewall):
    assert firewall() == {"added": [], "iptables": [], "ip6tables": []}


def test_containers_on_nodes_cannot_reach_cluster_hosts_their_node_or_link_local(firewall):
    rules = firewall(docker_blocked_destinations=CLUSTER, docker_isolate_containers=True)
    v4 = set(rules["iptables"])
    for bridge in ("docker_gwbridge", "docker0"):
        for address in CLUSTER:
            assert f"DOCKER-USER -i {bridge} -d {address} -j DROP" in v4
        assert f"DOCKER-USER -i {bridge} -d 169.254.0.0/16 -j DROP" in v4
        # the node itself, whatever address is used (gateway, private address)
        assert f"INPUT -i {bridge} -m conntrack ! --ctstate RELATED,ESTABLISHED -j DROP" in v4
    # 4 hosts and link-local, 1 INPUT rule: per bridge
    assert len(v4) == len(rules["iptables"]) == 2 * (len(CLUSTER) + 2)
    # no rule names a port or protocol: nothing from a bridge gets through, and
    # nothing that does not come from a bridge (swarm, VXLAN, NFS, SSH) is matched
    assert all(" -i docker_gwbridge " in r or " -i docker0 " in r for r in v4)
    assert not any("--dport" in r or "-p " in r for r in v4)
    if HAS_IPV6:
        assert set(rules["ip6tables"]) == {
            f"{chain} -i {bridge} -j DROP"
            for bridge in ("docker_gwbridge", "docker0")
            for chain in ("INPUT", "FORWARD")
        }


def test_a_second_run_adds_nothing(firewall):
    first = firewall(docker_blocked_destinations=CLUSTER, docker_isolate_containers=True)
    second = firewall(docker_blocked_destinations=CLUSTER, docker_isolate_containers=True)
    assert first["added"] and second["added"] == []
    assert second["iptables"] == first["iptables"]
    assert second["ip6tables"] == first["ip6tables"]


def test_blocked_destinations_alone_keep_the_old_rules_only(firewall):
    rules = firewall(docker_blocked_destinations=["10.0.0.5"])
    assert rules["iptables"] == [
        "DOCKER-USER -i docker_gwbridge -d 10.0.0.5 -j DROP",
        "DOCKER-USER -i docker0 -d 10.0.0.5 -j DROP",
    ]
    assert rules["ip6tables"] == []


def test_a_retired_hosts_rules_go_and_the_others_stay(firewall):
    firewall(docker_blocked_destinations=CLUSTER, docker_isolate_containers=True)
    kept = CLUSTER[:-1]
    rules = firewall(docker_blocked_destinations=kept, docker_isolate_containers=True)
    retired = CLUSTER[-1]
    # its two rules (one per bridge) deleted, nothing added
    assert sorted(rules["added"]) == [
        f"iptables -D DOCKER-USER -i {bridge} -d {retired} -j DROP"
        for bridge in ("docker0", "docker_gwbridge")
    ]
    assert [r for r in rules["iptables"] if retired in r] == []
    for bridge in ("docker_gwbridge", "docker0"):
        for address in kept:
            assert f"DOCKER-USER -i {bridge} -d {address} -j DROP" in rules["iptables"]
        assert f"DOCKER-USER -i {bridge} -d 169.254.0.0/16 -j DROP" in rules["iptables"]
    assert len(rules["iptables"]) == 2 * (len(kept) + 2)


def test_a_node_joining_changes_the_rules_live_not_by_an_engine_restart():
    tasks = yaml.safe_load((ROLE / "tasks/config.yml").read_text())
    notified = {t["name"]: t.get("notify") for t in tasks if "notify" in t}
    assert notified["Firewall script for containers' traffic to the cluster's hosts"] == (
        "Apply the firewall"
    )
    restarts = [name for name, handlers in notified.items() if "Restart docker" in handlers]
    assert restarts == ["Engine settings"]
