"""An admin's request for an environment built from a git repository: what the
environments page sends and the builder accepts. Both check it with this module
(the page to answer at once, the builder because it is the one that builds).

Standard library only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

# The rule of the deploy's environments too (hub/environments.py): the name is
# also a folder in every home.
ENVIRONMENT_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}\Z")
NAME_RULE = "1 to 32 of a-z 0-9 _ -, starting with a letter"
# names no environment may take: a home's folder the hub uses for something else
RESERVED_NAMES = frozenset({"projects"})

# git URLs: https always; git:// and ssh:// only where the operator allows them
# (environments_allowed_schemes). No scp-like "host:path": say ssh:// instead.
SCHEMES = ("https", "git", "ssh")
DEFAULT_SCHEMES = ("https",)
MAX_URL = 500
# A branch, a tag or a commit: git check-ref-format's rules, kept strict.
REF = re.compile(r"^(?!-)(?!/)(?!.*\.\.)(?!.*//)(?!.*@\{)(?!.*\.lock$)[A-Za-z0-9._/-]{1,200}\Z")
COMMIT = re.compile(r"^[0-9a-f]{40}\Z")

MEM_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
MEM_TEXT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMG]?)i?B?\s*\Z", re.IGNORECASE)
MIN_MEM = 256 << 20
MAX_TEXT = {"display_name": 60, "description": 300}
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class RequestError(ValueError):
    """A request the builder refuses; `field` names the form's field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Limits:
    """What the operator allows a built environment (the page's ranges)."""

    max_mem: int = 8 << 30
    max_cpu: float = 4.0
    schemes: tuple[str, ...] = DEFAULT_SCHEMES


@dataclass(frozen=True)
class EnvironmentRequest:
    name: str
    repo_url: str
    ref: str
    display_name: str
    description: str
    mem_limit: int  # bytes
    cpu_limit: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "repo_url": self.repo_url,
            "ref": self.ref,
            "display_name": self.display_name,
            "description": self.description,
            "mem_limit": self.mem_limit,
            "cpu_limit": self.cpu_limit,
        }


def check_name(name: Any, taken: Iterable[str] = ()) -> str:
    if not isinstance(name, str) or not ENVIRONMENT_NAME.match(name):
        raise RequestError("name", f"{name!r} is not an environment name: use {NAME_RULE}")
    if name in RESERVED_NAMES or name in set(taken):
        raise RequestError("name", f"There is an environment called {name!r} already.")
    return name


def check_repo_url(value: Any, schemes: Iterable[str] = DEFAULT_SCHEMES) -> str:
    allowed = tuple(schemes)
    if not isinstance(value, str) or not value.strip():
        raise RequestError(
            "repo_url", "Give the git repository's URL, e.g. https://host/group/repo.git"
        )
    url = value.strip()
    if len(url) > MAX_URL or CONTROL.search(url) or " " in url:
        raise RequestError("repo_url", "The repository URL is too long or holds spaces.")
    if "://" not in url:
        raise RequestError(
            "repo_url",
            f"{url!r} is not a URL: give it with its scheme ({', '.join(allowed)}://...)",
        )
    try:
        parts = urlsplit(url)
        bad_port = parts.port == 0  # .port raises ValueError for one out of range
    except ValueError:
        bad_port = True
    if bad_port:
        raise RequestError("repo_url", f"{url!r} is not a valid URL (its port).")
    scheme = parts.scheme.lower()
    if scheme not in allowed:
        extra = "" if scheme in SCHEMES else " (not a git URL)"
        raise RequestError(
            "repo_url",
            f"{scheme}:// URLs are not allowed here{extra}; use {' or '.join(allowed)}://",
        )
    if not parts.hostname:
        raise RequestError("repo_url", f"{url!r} names no host.")
    if parts.password is not None or (parts.username is not None and scheme != "ssh"):
        # the catalog and the page show the URL: a token in it would be a secret in the open
        raise RequestError(
            "repo_url",
            "The URL holds a user name or password: give a public repository's URL.",
        )
    if parts.query or parts.fragment:
        raise RequestError("repo_url", "The URL has a ?query or #fragment: give the plain URL.")
    if parts.path in ("", "/"):
        raise RequestError("repo_url", f"{url!r} names no repository on {parts.hostname}.")
    return url


def check_ref(ref: Any) -> str:
    if ref is None or (isinstance(ref, str) and not ref.strip()):
        return "HEAD"
    if not isinstance(ref, str) or not REF.match(ref.strip()):
        raise RequestError(
            "ref",
            f"{ref!r} is not a branch, tag or commit: letters, digits, . _ / - only",
        )
    return str(ref).strip()


def parse_mem(value: Any) -> int:
    """Bytes from 2G, 512M, 1.5G or a number of bytes."""
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int):
        return value
    m = MEM_TEXT.match(str(value))
    if not m:
        raise ValueError(value)
    return int(float(m.group(1)) * MEM_UNITS[m.group(2).upper()])


def check_mem(value: Any, limits: Limits) -> int:
    try:
        mem = parse_mem(value)
    except ValueError:
        raise RequestError("mem_limit", f"{value!r} is not an amount of memory, e.g. 2G") from None
    if not MIN_MEM <= mem <= limits.max_mem:
        raise RequestError(
            "mem_limit",
            f"Memory must be from {_gib(MIN_MEM)} to {_gib(limits.max_mem)}, not {_gib(mem)}.",
        )
    return mem


def check_cpu(value: Any, limits: Limits) -> float:
    try:
        cpu = float(value)
    except (TypeError, ValueError):
        raise RequestError(
            "cpu_limit", f"{value!r} is not a number of CPUs, e.g. 1 or 0.5"
        ) from None
    if not 0.1 <= cpu <= limits.max_cpu:
        raise RequestError(
            "cpu_limit", f"CPUs must be from 0.1 to {limits.max_cpu:g}, not {cpu:g}."
        )
    return cpu


def check_text(field: str, value: Any, required: bool) -> str:
    text = "" if value is None else str(value).strip()
    if required and not text:
        raise RequestError(field, "Give a name people see in the list, e.g. Python with pandas.")
    if len(text) > MAX_TEXT[field] or CONTROL.search(text):
        raise RequestError(
            field, f"At most {MAX_TEXT[field]} characters on one line, without control characters."
        )
    return text


def parse_request(
    data: Mapping[str, Any], limits: Limits, taken: Iterable[str] = ()
) -> EnvironmentRequest:
    """The request from the form's fields; RequestError names the first bad one."""
    name = check_name(data.get("name"), taken)
    return EnvironmentRequest(
        name=name,
        repo_url=check_repo_url(data.get("repo_url"), limits.schemes),
        ref=check_ref(data.get("ref")),
        display_name=check_text("display_name", data.get("display_name") or name, True),
        description=check_text("description", data.get("description"), False),
        mem_limit=check_mem(data.get("mem_limit") or "2G", limits),
        cpu_limit=check_cpu(data.get("cpu_limit") or 1, limits),
    )


def _gib(n: int) -> str:
    if n % (1 << 30) == 0:
        return f"{n >> 30}G"
    return f"{n / (1 << 20):.0f}M"
