"""The command line: `python -m swarmhub.stats poll|web|serve|report ...`."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from . import report
from .hubapi import HubAPI, HubRefused, HubUnavailable
from .models import open_db
from .poller import PollSettings, poll_once, run_poller

log = logging.getLogger("swarmhub.stats")

DEFAULT_DB = "/srv/stats/db/activity.sqlite"
DEFAULT_BACKUP_STATUS = "/srv/backup/state/status.json"

REPORT_HELP = """\
What the numbers mean (all from the samples in the database):
  active        a sample is active when the server's last activity (as the hub reports
                it) lies within the active window (default: the poll interval) before
                the poll
  active users  users with at least one active sample in the hour or day
  active time   the number of polls at which at least one of the user's servers was
                active, times the poll interval in force at each poll (two servers
                active at once count once); so it has the poll interval's resolution
  never active  users the hub listed during the range without any active sample in it
  last seen     the newest last activity the hub reported for the user or any of their
                servers, over the whole recorded history
Times are UTC. --since is included; --until is excluded, except that a bare date
(2026-11-30) means the end of that day. Default range: the last 7 days.

Examples (on the hub host):
  docker exec swarmhub-stats python -m swarmhub.stats report active --per day --since 2026-11-01
  docker exec swarmhub-stats python -m swarmhub.stats report users --csv > users.csv
  docker exec swarmhub-stats python -m swarmhub.stats report never
"""


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be greater than 0")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be greater than 0")
    return value


def _port(text: str) -> int:
    value = _positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port (1-65535)")
    return value


class When:
    """A --since/--until value: a date (YYYY-MM-DD) or an ISO 8601 time (UTC if no offset)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.is_date = False
        try:
            self.value = datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
            self.is_date = True
        except ValueError:
            try:
                parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                raise argparse.ArgumentTypeError(
                    f"{text!r} is not a date (2026-11-30) or a time (2026-11-30T14:00)"
                ) from None
            self.value = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed

    def as_end(self) -> datetime:
        return self.value + timedelta(days=1) if self.is_date else self.value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m swarmhub.stats",
        description="Activity statistics of a JupyterHub: a poller that samples the hub's "
        "servers into SQLite, a page of charts inside the hub, and reports for instructors.",
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--db",
        default=_env("SWARMHUB_STATS_DB", DEFAULT_DB),
        help=f"the SQLite database (env SWARMHUB_STATS_DB; default {DEFAULT_DB})",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def poll_options(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--interval",
            type=_positive_float,
            default=_positive_float(_env("SWARMHUB_STATS_INTERVAL_MINUTES", "5")),
            metavar="MINUTES",
            help="minutes between polls (env SWARMHUB_STATS_INTERVAL_MINUTES; default 5)",
        )
        window = os.environ.get("SWARMHUB_STATS_WINDOW_MINUTES")
        p.add_argument(
            "--window",
            type=_positive_float,
            default=_positive_float(window) if window else None,
            metavar="MINUTES",
            help="a server is active when its last activity is at most this old "
            "(env SWARMHUB_STATS_WINDOW_MINUTES; default: the interval)",
        )
        p.add_argument(
            "--retention-days",
            type=_positive_int,
            default=_positive_int(_env("SWARMHUB_STATS_RETENTION_DAYS", "365")),
            help="samples older than this are deleted (env SWARMHUB_STATS_RETENTION_DAYS; "
            "default 365)",
        )

    def web_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--host", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")
        p.add_argument("--port", type=_port, default=8080, help="port (default 8080)")
        p.add_argument(
            "--prefix",
            default=_env("JUPYTERHUB_SERVICE_PREFIX", "/services/stats/"),
            help="URL prefix (env JUPYTERHUB_SERVICE_PREFIX; default /services/stats/)",
        )
        p.add_argument(
            "--backup-status",
            default=_env("SWARMHUB_STATS_BACKUP_STATUS", DEFAULT_BACKUP_STATUS),
            help=f"the backup's status file (default {DEFAULT_BACKUP_STATUS})",
        )
        p.add_argument("--threads", type=_positive_int, default=4, help="web server threads")

    poll = commands.add_parser(
        "poll",
        parents=[common],
        help="sample the hub every interval (needs JUPYTERHUB_API_URL, JUPYTERHUB_API_TOKEN)",
        description="Read every user from the hub API every interval and append one sample "
        "per server. Needs JUPYTERHUB_API_URL and JUPYTERHUB_API_TOKEN (scopes list:users, "
        "read:users:name, read:users:activity, read:servers, admin:server_state).",
    )
    poll_options(poll)
    poll.add_argument("--once", action="store_true", help="poll once and exit")

    web = commands.add_parser("web", parents=[common], help="serve the page only")
    web_options(web)
    serve = commands.add_parser(
        "serve",
        parents=[common],
        help="the poller and the page in one process (the sidecar's command)",
        description="The poller in a thread and the page; a refused token stops both.",
    )
    poll_options(serve)
    web_options(serve)

    rep = commands.add_parser(
        "report",
        parents=[common],
        help="active users per hour or day, active time per user, never active users",
        description="Instructors' numbers from the samples, as an aligned table or CSV.",
        epilog=REPORT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    rep.add_argument(
        "what",
        choices=["active", "users", "never"],
        help="active: active users per hour/day; users: active time and last seen per "
        "user; never: users never active in the range",
    )
    rep.add_argument("--since", type=When, help="start (date or ISO time, UTC)")
    rep.add_argument("--until", type=When, help="end (a date includes that whole day)")
    rep.add_argument("--per", choices=["hour", "day"], default="day", help="for 'active'")
    rep.add_argument("--csv", action="store_true", help="CSV instead of a table")
    return parser


def report_range(args: argparse.Namespace, now: datetime) -> tuple[datetime, datetime]:
    end = args.until.as_end() if args.until else now
    start = args.since.value if args.since else end - timedelta(days=7)
    if start >= end:
        raise ValueError(
            f"--since ({start.isoformat()}) must be before --until ({end.isoformat()})"
        )
    return start, end


def run_report(args: argparse.Namespace, now: datetime | None = None) -> str:
    start, end = report_range(args, now or datetime.now(UTC))
    engine = open_db(args.db, create=False)
    try:
        with Session(engine) as session:
            if args.what == "active":
                header, body = report.period_table(
                    report.active_per_period(session, start, end, args.per), args.per
                )
            else:
                rows = (
                    report.user_summary(session, start, end)
                    if args.what == "users"
                    else report.never_active(session, start, end)
                )
                header, body = report.user_table(rows, for_csv=args.csv)
    finally:
        engine.dispose()
    if args.csv:
        return report.render_csv(header, body)
    title = f"{args.what}: {start.isoformat()} to {end.isoformat()} (UTC)\n"
    return title + report.render_text(header, body)


def poll_settings(args: argparse.Namespace) -> PollSettings:
    return PollSettings(
        interval=timedelta(minutes=args.interval),
        window=timedelta(minutes=args.window) if args.window else None,
        retention=timedelta(days=args.retention_days),
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "report":
        try:
            sys.stdout.write(run_report(args))
        except (ValueError, FileNotFoundError) as e:
            print(f"stats report: {e}", file=sys.stderr)
            return 1
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        return _run_service(args)
    except (ValueError, OSError) as e:
        log.error("stats %s cannot start: %s", args.command, e)
        return 1


def _run_service(args: argparse.Namespace) -> int:
    engine = open_db(args.db)
    if args.command == "poll":
        hub, settings = HubAPI.from_env(), poll_settings(args)
        if args.once:
            try:
                poll = poll_once(engine, hub, settings)
            except (HubUnavailable, HubRefused) as e:
                log.error("poll failed: %s", e)
                return 1
            log.info("poll: %d users, %d servers", poll.users, poll.servers)
            return 0
        stop = threading.Event()
        _stop_on_sigterm(stop)
        try:
            run_poller(engine, hub, settings, stop)
        except HubRefused as e:
            log.error("stopping: %s", e)
            return 1
        return 0
    return _serve(args, engine, with_poller=args.command == "serve")


def _serve(args: argparse.Namespace, engine: Any, with_poller: bool) -> int:
    from waitress import create_server

    from .web import WebSettings, create_app

    settings = WebSettings(
        prefix=args.prefix,
        backup_status=Path(args.backup_status),
        public_url=os.environ.get("JUPYTERHUB_PUBLIC_URL", ""),
    )
    if not os.environ.get("JUPYTERHUB_API_TOKEN"):
        raise ValueError("JUPYTERHUB_API_TOKEN is not set; the page logs users in with it")
    app = create_app(settings, engine)
    server = create_server(app, host=args.host, port=args.port, threads=args.threads)
    exit_code = {"code": 0}
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()
        raise SystemExit(exit_code["code"])

    signal.signal(signal.SIGTERM, on_signal)
    if with_poller:
        hub, poll_cfg = HubAPI.from_env(), poll_settings(args)

        def poller() -> None:
            try:
                run_poller(engine, hub, poll_cfg, stop)
            except Exception as e:  # a refused token, or a bug: stop the whole service
                log.error("poller stopped: %s; stopping the service", e)
                exit_code["code"] = 1
                os.kill(os.getpid(), signal.SIGTERM)

        threading.Thread(target=poller, name="poller", daemon=True).start()
    log.info("stats page on http://%s:%d%s", args.host, args.port, args.prefix)
    try:
        server.run()
    finally:
        stop.set()
        server.close()
    return exit_code["code"]


def _stop_on_sigterm(stop: threading.Event) -> None:
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
