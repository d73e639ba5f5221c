"""Orphaned user servers: swarm services of this hub's servers (label
swarmhub.server) that the hub does not know, e.g. after an older hub database
was restored. Each is removed, and logged; the user's files are on the hub's
/home and are not touched.

Runs as a hub-managed service (in the hub container, which has the Docker
socket): `python -m swarmhub.hub.orphans --every 60`. The hub's API says which
servers it knows, pending spawns included; a service is removed only when two
looks in a row found it unknown, so a spawn that is just beginning is never
taken for an orphan.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .service_spec import SERVER_LABEL, server_label

PAGE = 200

log = logging.getLogger("swarmhub.hub.orphans")


def known_servers(users: Iterable[Mapping[str, Any]]) -> set[str]:
    """server_label of every server the hub knows (running or pending)."""
    return {
        server_label(user["name"], server_name)
        for user in users
        for server_name in (user.get("servers") or {})
    }


def sort_out(
    services: Mapping[str, str], known: set[str], suspects: set[str]
) -> tuple[list[str], set[str]]:
    """services: {service name: its server label}. (Services to remove: unknown now
    and at the last look; unknown ones to look at again.)"""
    unknown = {name for name, label in services.items() if label not in known}
    return sorted(unknown & suspects), unknown - suspects


def hub_users(api_url: str, token: str) -> list[dict[str, Any]]:
    """Every user with their servers, from the hub's API, page by page."""
    users: list[dict[str, Any]] = []
    while True:
        request = urllib.request.Request(
            f"{api_url.rstrip('/')}/users?limit={PAGE}&offset={len(users)}",
            headers={"Authorization": f"token {token}"},
        )
        with urllib.request.urlopen(request, timeout=30) as reply:
            page = json.load(reply)
        users += page
        if len(page) < PAGE:
            return users


def look(client: Any, api_url: str, token: str, suspects: set[str]) -> set[str]:
    """One look: remove the orphans found twice; the suspects for the next look."""
    services = {s.name: s for s in client.services.list(filters={"label": SERVER_LABEL})}
    labels = {name: s.attrs["Spec"]["Labels"][SERVER_LABEL] for name, s in services.items()}
    known = known_servers(hub_users(api_url, token))
    orphans, suspects = sort_out(labels, known, suspects)
    for name in orphans:
        log.warning(
            "Removing %s: a user server's service the hub does not know (the user's "
            "files are kept)",
            name,
        )
        services[name].remove()
    return suspects


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m swarmhub.hub.orphans", description=__doc__)
    parser.add_argument("--every", type=float, default=60, help="seconds between looks")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[orphans %(levelname)s] %(message)s")
    import docker  # the hub image has it (dockerspawner's)

    client = docker.from_env()
    api_url, token = os.environ["JUPYTERHUB_API_URL"], os.environ["JUPYTERHUB_API_TOKEN"]
    suspects: set[str] = set()
    while True:
        try:
            suspects = look(client, api_url, token, suspects)
        except Exception as error:  # noqa: BLE001 (one failed look must not end the watch)
            log.error("Looking for orphaned servers failed: %s", error)
        time.sleep(args.every)


if __name__ == "__main__":
    main()
