"""restuser: creates hub users' system accounts on the hub host, over a unix socket.

`POST /users/NAME` ensures the user exists (useradd, a home copied from the skeleton
folder, mode 0700, and a disk quota if quotas are on), `GET /users/NAME` looks it up;
both answer `{name, uid, gid, home, quota}` (quota `{soft, hard}` or null) or
`{error, detail}`. See useradd.ensure_user for what is checked and undone.

Accounts it makes join the mark group (swarmhub-users); an existing account outside
it is refused (409 unmarked-account), and one in sudo, adm, docker or another group
with a gid under 1000 always (403 privileged-account). `python -m
swarmhub.restuser.migrate` marks, once, the accounts made before marks existed.
"""

from .app import create_app
from .config import RestuserConfig
from .errors import RestuserError
from .names import DEFAULT_RESERVED_NAMES, DEFAULT_RESERVED_PREFIXES, NAME_PATTERN, check_name
from .quota import Quota, format_size, make_quota, parse_size
from .server import bind_unix_socket, make_unix_server
from .useradd import Outcome, UserAnswer, ensure_user, get_user

__all__ = [
    "DEFAULT_RESERVED_NAMES",
    "DEFAULT_RESERVED_PREFIXES",
    "NAME_PATTERN",
    "Outcome",
    "Quota",
    "RestuserConfig",
    "RestuserError",
    "bind_unix_socket",
    "check_name",
    "create_app",
    "ensure_user",
    "format_size",
    "get_user",
    "make_quota",
    "make_unix_server",
    "parse_size",
    "UserAnswer",
]
