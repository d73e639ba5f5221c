"""`python -m swarmhub.backup COMMAND`: the backup sidecar's commands.

  run                  one backup now (incremental, or full when due), then prune,
                       then the restore drill
  serve                back up on the wall-clock schedule (the container's command)
  drill                restore a sample of the latest backup's files into a scratch
                       folder and compare them with the live files (run also
                       after each backup); exit 1 when any differs
  status               last good backup, last result, the chains, the last drill;
                       exit 1 when the last run failed or there is no backup
  list USER            the backup times a home can be restored from
  restore USER [--time 3D|ISO-DATE] [--path SUBPATH] [--into DIR] [--list]
               [--force [--yes]]
  list/restore COURSE --area courses|exchange
                       the same for a course's folder (/srv/courses/COURSE) or the
                       exchange's store of it (/srv/exchange/COURSE)
  list/restore state --area environments
                       the environment builder's catalog and build logs

Settings come from SWARMHUB_BACKUP_* variables (see config.py).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence

from .config import AREA_WORDS, HOME_AREA, BackupConfig, config_from_env
from .errors import BackupError
from .lock import EXIT_BUSY, held
from .restore import (
    LOCK_WAIT_SECONDS,
    RestoreRequest,
    format_backup_list,
    list_backups,
    restore_home,
)
from .runner import backup_chains, run_backup, run_drill_now, serve
from .status import read_status
from .timespec import TimeSpec, iso, parse_time

log = logging.getLogger("swarmhub.backup")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m swarmhub.backup",
        description="Encrypted duplicity backups of /home, and restores of one home.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("run", help="one backup now, then remove chains beyond the kept ones")
    commands.add_parser("serve", help="back up on the schedule until stopped")
    commands.add_parser(
        "drill", help="restore a sample of the latest backup's files and compare them"
    )
    commands.add_parser("status", help="last good backup, last result and the backup chains")
    listing = commands.add_parser("list", help="backup times a home can be restored from")
    listing.add_argument("user")
    _area_option(listing)
    restore = commands.add_parser(
        "restore",
        help="restore a home (or a path of it) into /home/USER/restored-TIME/",
        description=(
            "Restore USER's home, or one path of it, as it was at a backup. By default "
            "into a new folder /home/USER/restored-TIME/ owned by the user; nothing that "
            "exists is ever overwritten unless --force is given."
        ),
    )
    restore.add_argument("user", help="whose home (with --area: which course)")
    _area_option(restore)
    restore.add_argument(
        "--time",
        type=_time_arg,
        help="the newest backup at or before this: an age (3D, 12h, 2W) or an ISO date "
        "(2026-11-20, 2026-11-20T14:00, UTC unless an offset is given); default: the latest",
    )
    restore.add_argument("--path", help="one file or folder of the home (relative to it)")
    restore.add_argument(
        "--into", metavar="DIR", help="put restored-TIME/ in DIR instead of the user's home"
    )
    restore.add_argument("--list", action="store_true", help="only list the backup times")
    restore.add_argument(
        "--force",
        action="store_true",
        help="restore in place over the current files, after showing what would be "
        "replaced and asking (files not in the backup are kept)",
    )
    restore.add_argument("--yes", action="store_true", help="with --force: do not ask")
    args = parser.parse_args(argv)
    if args.command == "restore":
        if args.yes and not args.force:
            parser.error("--yes only goes with --force")
        if args.force and args.into:
            parser.error("--force restores in place; it cannot go with --into")
    return args


def _area_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--area",
        choices=list(AREA_WORDS),
        default=HOME_AREA,
        help="home (default): USER's home; courses: the course folder /srv/courses/COURSE; "
        "exchange: the exchange's store of the course, /srv/exchange/COURSE; environments: "
        "the environment builder's catalog and logs (NAME: state, /srv/envbuild/state)",
    )


def _time_arg(text: str) -> TimeSpec:
    try:
        return parse_time(text)
    except BackupError as e:
        raise argparse.ArgumentTypeError(e.message) from None


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    try:
        config = config_from_env()
        return _dispatch(config, args)
    except BackupError as e:
        print(f"error: {e.message}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("interrupted; nothing more was changed", file=sys.stderr)
        return 130


def _echo(line: str) -> None:
    print(line, flush=True)


def _dispatch(config: BackupConfig, args: argparse.Namespace) -> int:
    if args.command == "run":
        # e.g. the sidecar's own run at its start: wait for it, as restores do
        outcome = run_backup(config, echo=_echo, wait_seconds=LOCK_WAIT_SECONDS)
        print(outcome.message)
        if outcome.ok and config.drill_files:
            print(outcome.status.drill_message)
            return 0 if outcome.status.drill_result == "ok" else 1
        return 0 if outcome.ok else 1
    if args.command == "serve":
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        log.info(
            "backups of %s to %s every %d min (at :%02d), full when older than %s, keep %d full",
            config.source,
            config.target_url,
            config.interval_minutes,
            config.offset_minutes,
            config.full_if_older_than,
            config.keep_full,
        )
        serve(config, stop, echo=_echo)
        return 0
    if args.command == "drill":
        status = run_drill_now(config, echo=_echo, wait_seconds=LOCK_WAIT_SECONDS)
        print(status.drill_message)
        return 0 if status.drill_result == "ok" else 1
    if args.command == "status":
        return show_status(config)
    if args.command in ("list", "restore"):
        config = config.for_area(args.area)
    if args.command == "list" or (args.command == "restore" and args.list):
        chains, account = list_backups(config, args.user, echo=_echo)
        print(format_backup_list(config, args.user, chains, account))
        return 0 if chains else 1
    request = RestoreRequest(
        user=args.user,
        time=args.time,
        path=args.path,
        into=args.into,
        force=args.force,
        yes=args.yes,
    )
    restore_home(config, request, echo=_echo, confirm=_ask)
    return 0


def show_status(config: BackupConfig) -> int:
    status = read_status(config.status_file)
    print(f"target:        {config.target_url}")
    print(f"last result:   {status.last_result or 'none (no run yet)'}")
    print(f"last success:  {status.last_success or 'never'}")
    print(f"last run:      {status.last_run_started or '-'} .. {status.last_run_finished or '-'}")
    print(f"message:       {status.message}")
    print(
        f"restore drill: {status.drill_result or 'none yet'} at {status.last_drill or '-'}"
        + (f": {status.drill_message}" if status.drill_message else "")
    )
    try:
        # duplicity locks its cache while a backup runs: read the chains after it
        with held(config.lock_file):
            chains = [(area, backup_chains(area)) for area in config.areas()]
    except BackupError as e:
        if e.exit_code == EXIT_BUSY:
            print(
                "chains:        not read now: a backup is running "
                f"(since {status.last_run_started})"
            )
            return 0 if status.last_result == "ok" else 1
        print(f"chains:        unknown: {e.message}")
        return 1
    every_area_backed_up = True
    for area, area_chains in chains:
        label = "chains:" if area.area == config.area else f"chains of {area.source}:"
        if not area_chains:
            print(f"{label:<14} none: there is no backup yet")
            every_area_backed_up = False
            continue
        print(f"{label:<14} {len(area_chains)} (oldest first)")
        for chain in area_chains:
            incs = sum(1 for s in chain.sets if s.kind == "inc")
            print(f"  full {iso(chain.start)} .. {iso(chain.end)}  ({incs} incremental)")
    return 0 if every_area_backed_up and status.last_result == "ok" else 1


def _ask(question: str) -> bool:
    if not sys.stdin.isatty():
        return False
    try:
        return input(question).strip().lower() in ("y", "yes")
    except EOFError:
        return False


if __name__ == "__main__":
    sys.exit(main())
