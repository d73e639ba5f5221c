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
    parser.add_argument("--lock-file", default=defaults.lock_file, help="file lock of creations")
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
        lock_file=args.lock_file,
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
    log.info("restuser listening on %s (mode %04o)", args.socket, args.mode)
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
