"""Hub user names of Google accounts: the email map, then the hosted domains.
Standard library only: the hub's settings schema (settings.py) checks hosted
domains with it on the control machine, before any host changes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..common.usernames import MAX_LENGTH as MAX_USERNAME_LENGTH
from ..common.usernames import system_username


class NotMapped(Exception):
    """A Google account this hub has no name for (no hosted domain, not in the map)."""


# Longest domain part a name keeps when several hosted domains are configured; the
# local part keeps at least 32 - 1 - 16 = 15 characters.
MAX_DOMAIN_LABEL = 16


def normalize_email(email: object) -> str:
    return str(email or "").strip().lower()


def domain_label(domain: str) -> str:
    """The part of a username that stands for a hosted domain: "example.org" ->
    "example-org"; a longer one is cut to 16 characters with a hash of the whole."""
    return system_username(domain, max_length=MAX_DOMAIN_LABEL)


def domain_labels(hosted_domains: Iterable[str]) -> dict[str, str]:
    """{domain: label} for several hosted domains; ValueError if the names could clash.

    A name is LOCAL-LABEL. The mapping from (local name, domain) to names is one to
    one as long as no label is another's, nor ends in "-" + another's: then at most
    one label is a "-"-separated suffix of any name, which gives back the domain,
    and the rest of the name is the local name. (With "c.org" and "b-c.org",
    "a-b"@c.org and "a"@b-c.org would both be "a-b-c-org": refused here.)
    """
    labels = {normalize_email(d): domain_label(normalize_email(d)) for d in hosted_domains}
    for a, label_a in labels.items():
        if not label_a:
            raise ValueError(f"hosted domain {a!r} gives no name part")
        for b, label_b in labels.items():
            if a != b and (label_a == label_b or label_a.endswith("-" + label_b)):
                raise ValueError(
                    f"hosted domains {a!r} and {b!r} would give clashing user names "
                    f"(name parts {label_a!r} and {label_b!r}); admit one of them through "
                    "the email map (full email -> name) instead"
                )
    return labels


def google_username(
    user_info: Mapping[str, Any],
    hosted_domains: Iterable[str] = (),
    email_map: Mapping[str, str] | None = None,
) -> str:
    """Hub username for a Google account; NotMapped if this hub has none for it.

    - An email in `email_map` (full, lower-case emails) gets its name there.
    - Exactly one hosted domain and the email in it: the local part as a system
      name (the domain adds nothing, all accounts share it).
    - Several hosted domains and the email in one: "LOCAL-LABEL" (see domain_labels),
      so that ann@a.org and ann@b.org stay two people.
    - Anything else (no hosted domain, an email outside them) has no name: a name
      must come from a full email then, not from a local part that other domains
      (gmail.com for one) also have.
    """
    email = normalize_email(user_info.get("email"))
    mapped = (email_map or {}).get(email)
    if mapped:
        return mapped
    local, at, domain = email.rpartition("@")
    domains = [normalize_email(d) for d in hosted_domains]
    if at and local and domain in domains:
        if len(domains) == 1:
            name = system_username(local)
            if name:
                return name
        else:
            label = domain_labels(domains)[domain]
            head = system_username(local, max_length=MAX_USERNAME_LENGTH - 1 - len(label))
            if head:
                return f"{head}-{label}"
    raise NotMapped(email)
