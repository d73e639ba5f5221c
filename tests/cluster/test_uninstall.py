"""Issue 4: uninstall.yml removes the hub, its services and the swarm, and
keeps the homes (byte for byte), the shared data, the stats and the backups."""

from __future__ import annotations

from tests.cluster import trial
from tests.cluster.trial import NODES, on_host

KEPT = ["/home", "/srv/data", "/srv/shares", "/srv/stats/db/activity.sqlite", "/srv/backup"]
# A running server removes its own runtime files (jpserver-*.json) when
# uninstall stops it: Jupyter's doing, not uninstall's, so they are left out.
NOT_RUNTIME = "-not -path '*/.local/share/jupyter/runtime/*'"
HOMES_SUMS = f"cd /home && find . -type f {NOT_RUNTIME} -print0 | sort -z | xargs -0 sha256sum"
HOMES_TREE = f"cd /home && find . {NOT_RUNTIME} -printf '%p %U %G %m\\n' | sort | sha256sum"


def test_uninstall_keeps_homes_and_data(first_deploy, spawn_smoke):
    # homes to keep: the smoke spawn's first logins made ann's and bob's at least
    sums, tree = on_host("hub", HOMES_SUMS), on_host("hub", HOMES_TREE)
    assert {"ann", "bob"} <= set(on_host("hub", "ls /home").split())

    result = trial.deploy("uninstall.yml", log_name="deploy-uninstall.log")

    # gone: the hub, its sidecars, restuser, the swarm
    containers = on_host("hub", "docker ps -a --format '{{.Names}}'").split()
    for name in (
        "jupyterhub",
        "jupyterhub-proxy",
        "swarmhub-culler",
        "swarmhub-stats",
        "swarmhub-backup",
        "swarmhub-envbuild",
    ):
        assert name not in containers
    # the environment builder's firewall chain and the rules that led to it
    assert "SWARMHUB-ENVBUILD" not in on_host("hub", "iptables -S; ip6tables -S")
    assert on_host("hub", "systemctl is-active swarmhub-restuser", check=False) != "active"
    for host in ("hub", *NODES):
        state = on_host(host, "docker info -f '{{.Swarm.LocalNodeState}}'")
        assert state == "inactive", f"{host} is still in a swarm ({state})"
    assert on_host("hub", "dpkg -s docker-registry >/dev/null 2>&1 || echo gone") == "gone"
    assert on_host("proxy", "test -e /etc/nginx/sites-enabled/jupyterhub.conf || echo gone") == (
        "gone"
    )
    # the registry's key, certificate and accounts; each engine's CA, login and images
    for path in ("registry.key", "registry.crt", "htpasswd"):
        assert on_host("hub", f"test -e /etc/docker/registry/{path} || echo gone") == "gone"
    assert on_host("hub", "test -e /etc/swarmhub/registry-tls || echo gone") == "gone"
    for host in ("hub", *NODES):
        assert on_host(host, "ls /etc/docker/certs.d 2>/dev/null", check=False) == ""
        login = on_host(host, "cat /root/.docker/config.json 2>/dev/null", check=False)
        assert ":5000" not in login, f"{host} keeps its registry login"
        images = on_host(host, "docker image ls --digests --format '{{.Repository}}'")
        assert "swarmhub/" not in images, f"{host} keeps the cluster's images: {images}"
    for node in NODES:
        assert on_host(node, "docker ps -aq --filter name=jupyter-") == ""
        assert "-j DROP" not in on_host(node, "iptables -S DOCKER-USER 2>/dev/null || true")
    # kept, and the homes unchanged to the byte, with owners and modes
    for path in KEPT:
        assert on_host("hub", f"test -e {path} && echo kept") == "kept", f"{path} was removed"
    after = on_host("hub", HOMES_SUMS)
    changed = sorted(set(after.splitlines()) ^ set(sums.splitlines()))
    assert not changed, f"files in /home changed: {changed[:20]}"
    assert on_host("hub", HOMES_TREE) == tree
    assert "/home" in result.output  # it says what it kept

    # a second run changes nothing and does not fail
    again = trial.deploy("uninstall.yml", log_name="deploy-uninstall-again.log")
    assert all(counts["changed"] == 0 for counts in again.recap().values()), again.recap()
