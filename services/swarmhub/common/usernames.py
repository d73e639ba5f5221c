"""The one username rule of the hub, restuser, the backup and the users playbook.

A hub username is also a system account on the hub host and part of swarm service
names, so it must be a name useradd accepts *and* leave service names unambiguous:

- it starts with a-z or "_", then has only a-z, 0-9, "_" and "-";
- it is at most 32 characters long;
- it never holds "--" and never ends in "-".

The last point is what keeps `jupyter-USER` (a default server) apart from
`jupyter-USER--SERVER-HASH` (a named one; see swarmhub.hub.spawner.service_name_for):
without it, the user "alice--lab-c9d549" would name alice's server "lab".

Standard library only: restuser (on the hub host, with only its own modules) and
the backup image copy this file next to their own packages.
"""

from __future__ import annotations

import hashlib
import re

MAX_LENGTH = 32

# For JupyterHub's Authenticator.username_pattern (re.match): \Z, not $, which also
# matches before a trailing newline. The lookahead refuses "--" anywhere, the
# lookbehind a trailing "-".
USERNAME_PATTERN = r"^(?!.*--)[a-z_][a-z0-9_-]{0,31}(?<!-)\Z"
_RULE = re.compile(USERNAME_PATTERN)

RULE_TEXT = (
    "lowercase letters, digits, '_' and '-', at most 32 characters, starting with a "
    "letter or '_', never '--' and not ending in '-'"
)

_HASH_LENGTH = 7


def is_valid(name: object) -> bool:
    """Whether `name` may be a hub user's name (and system account)."""
    return isinstance(name, str) and _RULE.match(name) is not None


def problem(name: object) -> str | None:
    """Why `name` breaks the rule, in a few words; None if it does not."""
    if not isinstance(name, str):
        return f"{name!r} is not text"
    if is_valid(name):
        return None
    return f"{name!r} is not a valid user name: it must have {RULE_TEXT}"


def system_username(raw: str, max_length: int = MAX_LENGTH) -> str:
    """A name that passes the rule, made from `raw` (an email's local part, say); "" if
    nothing is left of it.

    Lower case; runs of characters other than a-z, 0-9 and _ become one "-" (so do
    runs of "-": "a--b" becomes "a-b"); no "-" at either end; a leading digit gets a
    "u" in front. Longer than `max_length`: the start is kept, then "-" and a short
    hash of the whole, so two long names that share a beginning stay apart.

    Different inputs may give the same name ("ada.lovelace", "ada-lovelace"): the
    hub never lets a second account take a name (see swarmhub.hub.authenticators).
    """
    if max_length < _HASH_LENGTH + 2:
        raise ValueError(f"max_length {max_length} leaves no room for a name")
    name = re.sub(r"[^a-z0-9_]+", "-", raw.strip().lower()).strip("-")
    if not name:
        return ""
    if not re.match(r"[a-z_]", name):
        name = "u" + name
    if len(name) > max_length:
        digest = hashlib.sha256(raw.strip().lower().encode()).hexdigest()[:_HASH_LENGTH]
        keep = max_length - _HASH_LENGTH - 1
        name = name[:keep].rstrip("-") + "-" + digest
    return name
