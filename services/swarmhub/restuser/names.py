"""Which names may become system users on the hub host."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable

from ..common import usernames
from .errors import RestuserError

# The one rule (swarmhub.common.usernames), compiled
NAME_PATTERN = re.compile(usernames.USERNAME_PATTERN)

# Users and groups of the Debian base system and of common packages. Group names
# matter as much as user names: useradd also creates a group of the user's name, so a
# user called "docker", created before the docker package adds its group, would own
# the group that may use the Docker socket.
_SYSTEM_NAMES = """
    root daemon bin sys sync games man lp mail news uucp proxy www-data backup list irc
    gnats nobody nogroup adm tty disk kmem dialout fax voice cdrom floppy tape sudo audio
    dip operator src shadow utmp video sasl plugdev staff users input sgx kvm render
    netdev crontab messagebus sshd ssh polkitd statd nslcd lxd libvirt wheel admin
    administrator docker dockremap ftp postfix postdrop mysql postgres redis nginx
    tcpdump tss uuidd rpc nfs nfsnobody ntp chrony dnsmasq avahi halt shutdown
"""
# This deployment: the hub's own services and the notebook image's default user
_SWARMHUB_NAMES = """
    jupyterhub jupyter jovyan swarmhub restuser hub culler stats registry duplicity projects
    swarmhub-users
"""
DEFAULT_RESERVED_NAMES = frozenset((_SYSTEM_NAMES + _SWARMHUB_NAMES).split())
# systemd-* (systemd-network, systemd-journal, ...) and _apt-style package accounts
DEFAULT_RESERVED_PREFIXES = ("systemd-", "_")


def check_name(
    name: str,
    reserved_names: Collection[str] = DEFAULT_RESERVED_NAMES,
    reserved_prefixes: Iterable[str] = DEFAULT_RESERVED_PREFIXES,
) -> str:
    """`name` if it may be a hub user's system account; RestuserError (4xx) if not."""
    if not usernames.is_valid(name):
        raise RestuserError(400, "invalid-name", usernames.problem(name) or repr(name))
    if name in reserved_names or name.startswith(tuple(reserved_prefixes)):
        raise RestuserError(
            403,
            "reserved-name",
            f"{name!r} is reserved for the system or the hub's own services; "
            "map this account to another user name",
        )
    return name
