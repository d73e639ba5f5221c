"""Run restuser: `python -m swarmhub.restuser --socket /run/restuser/restuser.sock`."""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from .app import create_app
from .config import RestuserConfig
from .names import DEFAULT_RESERVED_NAMES
from .quota import make_quota
from .server import make_unix_server

log = logging.getLogger("swarmhub.restuser")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m swarmhub.restuser",
        description="Create hub users' system accounts on request, over a unix socket.",
    )
    parser.add_argument("--socket", required=True, type=Path, help="unix socket to listen on")
    parser.add_argument(
        "--mode",
        default=0o660,
        type=_octal_mode,
        help="permissions of the socket file, in octal (default 0660)",
    )
    parser.add_argument("--group", help="group of the socket file (default: the server's)")
    defaults = RestuserConfig()
    parser.add_argument(
        "--prefix", default=defaults.prefix, help="root of the /etc files and homes (tests)"
    )
    parser.add_argument("--home-root", default=defaults.home_root, help="folder of the homes")
    parser.add_argument("--skeleton", default=defaults.skeleton, help="copied into new homes")
    parser.add_argument(
        "--min-uid", type=int, help="smallest uid of a user (default: UID_MIN of login.defs)"
    )
    parser.add_argument("--shell", default=defaults.shell, help="login shell of new users")
    parser.add_argument(
        "--reserve",
        action="append",
        default=[],
        metavar="NAME",
        help="refuse this name too (repeatable; adds to the built-in reserved names)",
    )
    parser.add_argument("--useradd", default=defaults.useradd, help="path of useradd")
    parser.add_argument("--userdel", default=defaults.userdel, help="path of userdel")
    parser.add_argument("--groupdel", default=defaults.groupdel, help="path of groupdel")
    parser.add_argument("--groupadd", default=defaults.groupadd, help="path of groupadd")
    parser.add_argument(
        "--mark-group",
        default=defaults.mark_group,
        help="group of every account made for the hub (made if missing); others are "
        f"not adopted (default {defaults.mark_group})",
    )
    parser.add_argument("--lock-file", default=defaults.lock_file, help="file lock of creations")
    quotas = parser.add_argument_group("disk quotas (set when a user or a missing home is made)")
    quotas.add_argument(
        "--quota-enabled",
        action="store_true",
        help="set each new user's quota with setquota (the filesystem must have quotas on)",
    )
    quotas.add_argument(
        "--quota-soft", default="0", help='default soft block limit, e.g. "5G" (0: none)'
    )
    quotas.add_argument(
        "--quota-hard", default="0", help='default hard block limit, e.g. "6G" (0: none)'
    )
    quotas.add_argument(
        "--quota-overrides",
        metavar="FILE",
        help="JSON (or YAML) map user -> {soft, hard}; read again when it changes",
    )
    quotas.add_argument("--setquota", default=defaults.setquota, help="path of setquota")
    quotas.add_argument(
        "--quota-filesystem",
        help="mount point given to setquota (default: the one holding --home-root)",
    )
    return parser.parse_args(argv)


def config_from_args(args: argparse.Namespace) -> RestuserConfig:
    return RestuserConfig(
        prefix=args.prefix,
        home_root=args.home_root,
        skeleton=args.skeleton,
        min_uid=args.min_uid,
        shell=args.shell,
        reserved_names=DEFAULT_RESERVED_NAMES | frozenset(args.reserve),
        useradd=args.useradd,
        userdel=args.userdel,
        groupdel=args.groupdel,
        groupadd=args.groupadd,
        mark_group=args.mark_group,
        lock_file=args.lock_file,
        quota_enabled=args.quota_enabled,
        default_quota=make_quota(args.quota_soft, args.quota_hard, "--quota-soft/--quota-hard"),
        quota_overrides=args.quota_overrides,
        setquota=args.setquota,
        quota_filesystem=args.quota_filesystem,
    )


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    args = parse_args(argv)
    try:
        config = config_from_args(args)
        server = make_unix_server(create_app(config), args.socket, args.mode, args.group)
    except (ValueError, OSError, KeyError) as e:
        log.error("restuser cannot start: %s", e)
        return 1
    # stop cleanly on `docker stop` / systemctl stop, removing the socket
    signal.signal(signal.SIGTERM, _exit_on_signal)
    quotas = (
        f"quotas {config.default_quota.describe()}"
        + (f", overrides {config.quota_overrides}" if config.quota_overrides else "")
        if config.quota_enabled
        else "quotas off"
    )
    log.info("restuser listening on %s (mode %04o, %s)", args.socket, args.mode, quotas)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        with contextlib.suppress(FileNotFoundError):
            args.socket.unlink()
    return 0


def _octal_mode(text: str) -> int:
    try:
        mode = int(text, 8)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an octal mode such as 0660") from None
    if not 0 <= mode <= 0o777:
        raise argparse.ArgumentTypeError(f"{text!r} is not a permission mode (0 to 0777)")
    return mode


def _exit_on_signal(signum: int, frame: object) -> NoReturn:
    sys.exit(0)


if __name__ == "__main__":
    sys.exit(main())
