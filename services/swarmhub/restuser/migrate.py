"""Upgrade step: mark the accounts restuser made before accounts were marked.

restuser adopts only accounts in its mark group (swarmhub-users). Accounts it made
before that rule are marked once, by the restuser role:

    python3 -m swarmhub.restuser.migrate --home-root /home --stamp FILE

An account is marked when it looks like one restuser made: uid at least the
smallest user uid (and not nobody's), home exactly HOME_ROOT/NAME, a name restuser
accepts, and in no privileged group (sudo, adm, docker, ... or a gid under 1000).
Everything else is left alone and listed with the reason. The stamp file makes it
run once: accounts made later by hand are never marked by it. It prints one JSON
object: {"marked": [...], "skipped": {name: reason}, "stamp": FILE}.
"""

from __future__ import annotations

import argparse
import json
import posixpath
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..common.accounts import Account
from .config import RestuserConfig
from .errors import RestuserError
from .names import DEFAULT_RESERVED_NAMES, check_name
from .passwd import groups_of
from .useradd import _prefix_args, _run, ensure_mark_group, privileged_groups, user_lock

# uids from here on are nobody (65534) and beyond: never a person's
UID_CEILING = 65533


@dataclass
class MarkReport:
    marked: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)


def mark_existing(config: RestuserConfig) -> MarkReport:
    """Add the accounts restuser made before the mark to the mark group."""
    report = MarkReport()
    min_uid = config.effective_min_uid()
    passwd = config.host_path("/etc/passwd")
    group = config.host_path("/etc/group")
    with user_lock(config):
        ensure_mark_group(config, min_uid)
        for line in passwd.read_text(encoding="utf-8", errors="replace").splitlines():
            fields = line.split(":")
            if len(fields) != 7 or not fields[2].isdigit() or not fields[3].isdigit():
                continue
            name, uid, gid, home = fields[0], int(fields[2]), int(fields[3]), fields[5]
            if not min_uid <= uid <= UID_CEILING:
                continue  # system accounts and nobody: not worth a line
            try:
                check_name(name, config.reserved_names, config.reserved_prefixes)
            except RestuserError as e:
                report.skipped[name] = f"{e.error}: {e.detail}"
                continue
            if posixpath.normpath(home) != posixpath.join(config.home_root, name):
                report.skipped[name] = f"home {home} is not {config.home_root}/{name}"
                continue
            account = Account(name=name, uid=uid, gid=gid, home=home)
            groups = groups_of(group, name, gid)
            if config.mark_group in groups:
                continue
            privileged = privileged_groups(config, account, groups)
            if privileged:
                report.skipped[name] = f"member of {', '.join(privileged)}"
                continue
            argv = [
                config.usermod,
                *_prefix_args(config),
                "--append",
                "--groups",
                config.mark_group,
                "--",
                name,
            ]
            problem = _run(argv)
            if problem is not None:
                report.skipped[name] = f"usermod failed: {problem[1]}"
                continue
            report.marked.append(name)
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m swarmhub.restuser.migrate",
        description="Mark the hub users' accounts restuser made before accounts were marked.",
    )
    defaults = RestuserConfig()
    parser.add_argument("--prefix", default=defaults.prefix, help="root of /etc (tests)")
    parser.add_argument("--home-root", default=defaults.home_root)
    parser.add_argument("--mark-group", default=defaults.mark_group)
    parser.add_argument("--min-uid", type=int)
    parser.add_argument("--reserve", action="append", default=[], metavar="NAME")
    parser.add_argument("--lock-file", default=defaults.lock_file)
    parser.add_argument(
        "--stamp", required=True, type=Path, help="written when done; if it exists, do nothing"
    )
    args = parser.parse_args(argv)
    if args.stamp.exists():
        print(json.dumps({"marked": [], "skipped": {}, "stamp": str(args.stamp)}))
        return 0
    config = RestuserConfig(
        prefix=args.prefix,
        home_root=args.home_root,
        mark_group=args.mark_group,
        min_uid=args.min_uid,
        reserved_names=DEFAULT_RESERVED_NAMES | frozenset(args.reserve),
        lock_file=args.lock_file,
    )
    try:
        report = mark_existing(config)
    except (RestuserError, OSError) as e:
        print(f"marking the hub users' accounts failed: {e}", file=sys.stderr)
        return 1
    if report.skipped and any(r.startswith("usermod failed") for r in report.skipped.values()):
        print(json.dumps(report.__dict__), file=sys.stderr)
        return 1
    args.stamp.parent.mkdir(parents=True, exist_ok=True)
    args.stamp.write_text(json.dumps(report.__dict__, indent=1) + "\n")
    print(json.dumps({**report.__dict__, "stamp": str(args.stamp)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
