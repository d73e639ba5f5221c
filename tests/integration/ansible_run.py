"""ansible-playbook of this checkout, run from a test: with its ansible.cfg and roles,
from the repository root (where the playbooks are), its output captured without colours
for the test to read. Also the inventory and recap line the tests share.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
ANSIBLE_PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")
# Unreachable on purpose: a play that got as far as this host would fail to connect
# rather than change anything.
NOWHERE = {"ansible_host": "127.0.0.1", "ansible_port": 1}


def ansible_playbook(
    *args: str, timeout: float = 900, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """`ansible-playbook ARGS...`; `env` is added to this process's environment."""
    return subprocess.run(
        [str(ANSIBLE_PLAYBOOK), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={
            **os.environ,
            "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
            "ANSIBLE_ROLES_PATH": str(ROOT / "roles"),
            "ANSIBLE_NOCOLOR": "1",
            # one `docker exec` per task instead of three (ansible.cfg turns it on
            # for ssh, the trial's and a site's connection, only)
            "ANSIBLE_PIPELINING": "1",
            **(env or {}),
        },
    )


def site_inventory(hub_host: str, hub_host_vars: dict) -> dict:
    """An inventory of a site's shape (the proxy, hub and nodes groups, and the Google
    login settings the playbooks' first play requires) in which only the hub host can be
    real: the proxy and the node are NOWHERE."""
    return {
        "all": {
            "vars": {
                "jupyterhub_google_client_id": "id.apps.example",
                "vault_google_client_secret": "s3cret-from-the-vault",
            },
            "children": {
                "proxy": {"hosts": {"proxy1": NOWHERE}},
                "hub": {"hosts": {hub_host: hub_host_vars}},
                "nodes": {"hosts": {"node1": NOWHERE}},
            },
        }
    }


def write_inventory(tmp_path: Path, inventory: dict) -> Path:
    path = tmp_path / "hosts.yml"
    path.write_text(yaml.safe_dump(inventory))
    return path


def recap(output: str, host: str) -> dict[str, int]:
    """The host's counts in the PLAY RECAP: ok, changed, unreachable, failed, ..."""
    line = next(line for line in output.splitlines() if line.startswith(host) and "ok=" in line)
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", line)}
