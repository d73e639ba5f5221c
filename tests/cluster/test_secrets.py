"""Issue 8: secrets reach the hub's containers as files, never as Env that
`docker inspect` shows, and the hub sees the hub host's accounts, not its /etc."""

from __future__ import annotations

import time

from tests.cluster.trial import on_host

CONTAINERS = (
    "jupyterhub",
    "jupyterhub-proxy",
    "swarmhub-culler",
    "swarmhub-stats",
    "swarmhub-backup",
)


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


SIDECARS = {  # container: (its account on the hub host, its token there)
    "swarmhub-culler": ("swarmhub-culler", "/srv/jupyterhub/secrets/service-idle-culler.token"),
    "swarmhub-stats": ("swarmhub-stats", "/srv/jupyterhub/secrets/service-stats.token"),
    # the proxy's API token (the hub holds it too)
    "jupyterhub-proxy": ("swarmhub-proxy", "/srv/jupyterhub/secrets/proxy_token"),
}


def test_sidecars_run_as_their_own_accounts_and_only_they_read_their_tokens(first_deploy):
    for container, (account, token) in SIDECARS.items():
        uid = on_host("hub", f"id -u {account}")
        status = on_host("hub", f"docker exec {container} cat /proc/1/status")
        fields = dict(line.split(":", 1) for line in status.splitlines())
        assert fields["Uid"].split()[0] == uid != "0", f"{container} runs as {fields['Uid']}"
        assert fields["CapEff"].strip() == "0000000000000000", container
        assert fields["NoNewPrivs"].strip() == "1", container
        assert on_host("hub", f"stat -c '%U %a' {token}") == f"{account} 400"
    # one sidecar cannot read the other's token, even were it mounted
    assert on_host("hub", f"id -u {SIDECARS['swarmhub-culler'][0]}") != on_host(
        "hub", f"id -u {SIDECARS['swarmhub-stats'][0]}"
    )
    assert on_host("hub", "stat -c '%U %a' /srv/stats/db") == "swarmhub-stats 700"
    owners = on_host("hub", "find /srv/stats/db -printf '%u\\n' | sort -u")
    assert owners == "swarmhub-stats", f"files of the database owned by {owners}"
