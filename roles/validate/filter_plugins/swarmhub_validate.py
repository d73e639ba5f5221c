"""Filters of the validate play: the hub's rules for who may log in, checked on the
control machine before any host is touched (the hub checks them again at start,
swarmhub.hub.hubconfig). The username rule is swarmhub.common.usernames, the one the hub,
restuser, the backup and the users playbook use.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

try:
    from swarmhub.common import usernames
except ImportError:  # pragma: no cover - Ansible run outside the project's virtualenv
    sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "services"))
    from swarmhub.common import usernames


def google_users_problems(
    allowed_users: Any, hosted_domain: Any = (), email_map: Any = None
) -> list[str]:
    """What is wrong with the Google login's users (allowed users, email map).

    Without a hosted domain a name must come from a full email: every allowed user
    must be given as {email, name}, and there must be at least one (else nobody
    could log in). Names must pass the username rule; one name per email.
    """
    entries = list(allowed_users or [])
    problems = []
    owners: dict[str, str] = {}

    def claim(email: Any, name: Any, where: str) -> None:
        email_text = str(email or "").strip().lower()
        local, at, domain = email_text.rpartition("@")
        if not (at and local and domain):
            problems.append(f"{where}: {email!r} is not a full email")
        problem = usernames.problem(name)
        if problem:
            problems.append(f"{where}: {problem}")
        elif owners.get(str(name), email_text) != email_text:
            problems.append(
                f"{where}: the name {name} is also given to {owners[str(name)]}; "
                "two Google accounts must never share a user"
            )
        else:
            owners[str(name)] = email_text

    for email, name in dict(email_map or {}).items():
        claim(email, name, f"jupyterhub_google_email_map[{email}]")
    bare = []
    for number, entry in enumerate(entries, start=1):
        where = f"swarmhub_allowed_users entry {number}"
        if isinstance(entry, dict):
            unknown = sorted(set(map(str, entry)) - {"email", "name"})
            if unknown or "email" not in entry or "name" not in entry:
                problems.append(f"{where}: must be a user name or {{email: EMAIL, name: NAME}}")
                continue
            claim(entry["email"], entry["name"], where)
        else:
            bare.append(str(entry))
            problem = usernames.problem(entry)
            if problem:
                problems.append(f"{where}: {problem}")
    if not list(hosted_domain or []):
        if bare:
            problems.append(
                "Google login without jupyterhub_google_hosted_domain admits only accounts "
                "given by full email with their user name; give these as "
                "{email: EMAIL, name: NAME}: " + ", ".join(bare)
            )
        elif not entries:
            problems.append(
                "Google login without jupyterhub_google_hosted_domain and with no "
                "swarmhub_allowed_users admits nobody; list the users as "
                "{email: EMAIL, name: NAME}, or set the hosted domain"
            )
    return problems


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"swarmhub_google_users_problems": google_users_problems}
