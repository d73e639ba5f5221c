"""Issue 8: secrets reach the hub's containers as files, never as Env that
`docker inspect` shows, and the hub sees the hub host's accounts, not its /etc."""

from __future__ import annotations

import time

from tests.cluster.trial import on_host

CONTAINERS = ("jupyterhub", "swarmhub-culler", "swarmhub-stats", "swarmhub-backup")


def test_docker_inspect_shows_no_token_or_passphrase(first_deploy):
    secrets = on_host(
        "hub",
        "for f in /srv/jupyterhub/secrets/* /srv/backup/secrets/*; do "
        '[ -s "$f" ] && head -c 200 "$f" && echo; done',
    ).split()
    # tokens, cookie secret, crypt key, client secret, backup passphrase
    assert len(secrets) >= 6, "the trial's secrets were not found"
    for container in CONTAINERS:
        inspected = on_host("hub", f"docker inspect {container}")
        leaked = [s[:6] + "..." for s in secrets if s in inspected]
        assert not leaked, f"docker inspect {container} shows secrets {leaked}"
    env = on_host("hub", "docker inspect -f '{{json .Config.Env}}' swarmhub-culler")
    assert "JUPYTERHUB_API_TOKEN" not in env


def test_the_hub_sees_passwd_and_group_only_and_kept_current(first_deploy):
    assert on_host("hub", "docker exec jupyterhub ls /etc/swarmhub/host").split() == [
        "group",
        "passwd",
    ]
    on_host("hub", "useradd --no-create-home --uid 4999 isolation-probe")
    try:
        deadline = time.monotonic() + 30
        while "isolation-probe:" not in on_host(
            "hub", "docker exec jupyterhub cat /etc/swarmhub/host/passwd"
        ):
            assert time.monotonic() < deadline, "the hub's copy of passwd was not updated"
            time.sleep(0.5)
    finally:
        on_host("hub", "userdel isolation-probe")
    assert "shadow" not in on_host("hub", "docker exec jupyterhub ls /etc/swarmhub/host")
