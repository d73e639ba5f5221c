"""The stats page: a Flask app behind the hub's login (HubOAuth), at the service prefix.

Routes, all under the prefix (/services/stats/):
  ""                charts of active users and of each user's activity, backup status
  activity.sqlite   a consistent copy of the database (SQLite backup API)
  oauth_callback    the end of the hub's OAuth login
  healthz           "ok", without login (readiness checks)
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import wraps
from pathlib import Path
from typing import Any, Literal, Protocol, cast
from urllib.parse import urlencode, urlparse

from flask import Flask, Response, abort, redirect, render_template_string, request, send_file
from flask import session as cookie
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from .access import may_view, refusal
from .backup_status import read_backup_status
from .charts import bar_chart
from .models import Poll, backup_to, utc
from .report import (
    active_per_period,
    floor_to,
    format_duration,
    format_time,
    user_activity_per_day,
    user_summary,
)

log = logging.getLogger("swarmhub.stats.web")
MAX_DAYS = 366


class HubLogin(Protocol):
    """What the app uses of jupyterhub.services.auth.HubOAuth."""

    login_url: str
    cookie_name: str
    access_scopes: set[str]

    def user_for_token(self, token: str) -> dict[str, Any] | None: ...
    def check_scopes(self, required_scopes: set[str], user: Any) -> set[str]: ...
    def generate_state(self, next_url: str | None = None, **extra: Any) -> str: ...
    def get_next_url(self, state_id: str = "") -> str: ...
    def get_code_verifier(self, state_id: str = "") -> str | None: ...
    def clear_oauth_state(self, state_id: str) -> None: ...
    def token_for_code(self, code: str, *, code_verifier: str | None = None) -> str: ...
    def generate_pkce_code_challenge(self) -> tuple[str, str, str]: ...


@dataclass(frozen=True)
class WebSettings:
    prefix: str = "/services/stats/"
    backup_status: Path = Path("/srv/backup/state/status.json")
    # cookies only over https when the hub's public URL is https
    public_url: str = ""
    default_days: int = 7

    def __post_init__(self) -> None:
        if not (self.prefix.startswith("/") and self.prefix.endswith("/")):
            raise ValueError(f"the service prefix must start and end with '/', not {self.prefix!r}")


def hub_oauth() -> HubLogin:
    """HubOAuth configured from the environment the hub gives a service
    (JUPYTERHUB_API_URL, JUPYTERHUB_API_TOKEN, JUPYTERHUB_CLIENT_ID,
    JUPYTERHUB_SERVICE_PREFIX, JUPYTERHUB_OAUTH_CALLBACK_URL, JUPYTERHUB_BASE_URL)."""
    from jupyterhub.services.auth import HubOAuth

    # how long a page already open keeps a login before asking the hub again,
    # so an instructor taken off the list loses the page within this time
    recheck = int(os.environ.get("SWARMHUB_STATS_ACCESS_RECHECK_SECONDS", "60"))
    return cast(HubLogin, HubOAuth(cache_max_age=recheck))


def create_app(settings: WebSettings, engine: Engine, auth: HubLogin | None = None) -> Flask:
    app = Flask(__name__)
    login = auth if auth is not None else hub_oauth()
    if not login.access_scopes:
        # HubOAuth derives them from JUPYTERHUB_SERVICE_NAME; without them only admins get in
        raise ValueError(
            "the stats page needs its hub service name: set JUPYTERHUB_SERVICE_NAME "
            "(or JUPYTERHUB_OAUTH_ACCESS_SCOPES) as the hub's services list names it"
        )
    prefix = settings.prefix
    app.config.update(
        # a new key per process: a restart only sends people through the hub's login again
        SECRET_KEY=secrets.token_bytes(32),
        SESSION_COOKIE_NAME=login.cookie_name,
        SESSION_COOKIE_PATH=prefix,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=urlparse(settings.public_url).scheme == "https",
    )

    def current_user() -> dict[str, Any] | None:
        token = cookie.get("token")
        if not token:
            return None
        user = login.user_for_token(token)
        if user is None:  # expired or revoked
            cookie.pop("token", None)
        return user

    def start_login() -> Response:
        verifier, challenge, method = login.generate_pkce_code_challenge()
        next_url = request.full_path if request.query_string else request.path
        state = login.generate_state(next_url=next_url, code_verifier=verifier)
        cookie["oauth_state"] = state
        query = urlencode(
            {"state": state, "code_challenge": challenge, "code_challenge_method": method}
        )
        return redirect(f"{login.login_url}&{query}")  # type: ignore[return-value]

    def viewer_only(view: Any) -> Any:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            if user is None:
                return start_login()
            if not may_view(user, login.access_scopes, login.check_scopes):
                log.info("refused %s (not admin, no %s)", user.get("name"), login.access_scopes)
                return page_error(403, "Not for you, sorry", refusal(user))
            return view(user, *args, **kwargs)

        return wrapped

    @app.get(prefix + "healthz")
    def healthz() -> str:
        return "ok"

    @app.get(prefix + "oauth_callback")
    def oauth_callback() -> Any:
        code = request.args.get("code")
        state = request.args.get("state")
        expected = cookie.pop("oauth_state", None)
        if not code or not state or state != expected:
            return page_error(
                400,
                "Login did not complete",
                "The hub's answer does not match a login started here (an old tab, or "
                "cookies blocked). Open the statistics page again to log in afresh.",
            )
        verifier = login.get_code_verifier(state)
        next_url = login.get_next_url(state)
        login.clear_oauth_state(state)
        cookie["token"] = login.token_for_code(code, code_verifier=verifier)
        if not next_url.startswith(prefix) or next_url.startswith("//"):
            next_url = prefix
        return redirect(next_url)

    @app.get(prefix)
    @viewer_only
    def index(user: dict[str, Any]) -> Any:
        days = _days_argument(request.args.get("days"), settings.default_days)
        now = datetime.now(UTC)
        per: Literal["hour", "day"] = "hour" if days <= 14 else "day"
        start = floor_to(now - timedelta(days=days), per)
        end = now
        with Session(engine) as session:
            periods = active_per_period(session, start, end, per)
            users = user_summary(session, start, end)
            daily = user_activity_per_day(session, start, end)
            latest = session.scalars(select(Poll).order_by(Poll.time.desc()).limit(1)).first()
        day_list = [(start + timedelta(days=i)).date() for i in range(days + 1)]
        labels = [p.start.strftime("%m-%d %H:00" if per == "hour" else "%m-%d") for p in periods]
        overview = bar_chart(
            labels,
            [p.active_users for p in periods],
            title=f"Active users per {per}, {_last(days)} (UTC)",
            unit="users",
            label_every=24 if per == "hour" and days > 1 else (6 if per == "hour" else 7),
        )
        rows = []
        for row in users:
            per_day = daily.get(row.name, {})
            rows.append(
                {
                    "name": row.name,
                    "active": format_duration(row.active_seconds),
                    "last_seen": format_time(row.last_seen),
                    "chart": bar_chart(
                        [d.strftime("%m-%d") for d in day_list],
                        [round(per_day.get(d, 0) / 60) for d in day_list],
                        title="",
                        unit="active minutes per day",
                        width=320,
                        height=70,
                        label_every=max(len(day_list) // 3, 1),
                        css_class="spark",
                        compact=True,
                    ),
                }
            )
        return render_template_string(
            PAGE,
            user=user,
            last=_last(days),
            overview=overview,
            rows=rows,
            backup=read_backup_status(settings.backup_status),
            prefix=prefix,
            generated=now.strftime("%Y-%m-%d %H:%M UTC"),
            latest=latest,
            latest_time=lambda poll: format_time(utc(poll.time)),
            minutes=lambda seconds: f"{seconds / 60:g}",
        )

    @app.get(prefix + "activity.sqlite")
    @viewer_only
    def download(user: dict[str, Any]) -> Any:
        folder = Path(tempfile.mkdtemp(prefix="stats-download-"))
        copy = folder / "activity.sqlite"
        try:
            backup_to(engine, copy)
        except Exception:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        log.info("database copy downloaded by %s", user.get("name"))
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
        response = send_file(
            copy,
            mimetype="application/vnd.sqlite3",
            as_attachment=True,
            download_name=f"activity-{stamp}.sqlite",
        )
        response.call_on_close(lambda: shutil.rmtree(folder, ignore_errors=True))
        return response

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException) -> Any:
        return page_error(e.code or 500, e.name, e.description or "")

    @app.errorhandler(Exception)
    def crashed(e: Exception) -> Any:
        # HubOAuth raises tornado's HTTPError when the hub does not answer
        status = getattr(e, "status_code", None)
        if isinstance(status, int) and status >= 500:
            log.error("hub request failed: %s", e)
            return page_error(
                502, "The hub did not answer", "Try again in a minute; the hub may be restarting."
            )
        log.exception("stats page failed")
        return page_error(500, "Something went wrong", f"{type(e).__name__}; see the service log.")

    return app


def page_error(status: int, title: str, message: str) -> tuple[str, int]:
    return render_template_string(ERROR_PAGE, title=title, message=message), status


def _last(days: int) -> str:
    return "last day" if days == 1 else f"last {days} days"


def _days_argument(text: str | None, default: int) -> int:
    if text is None or text == "":
        return default
    try:
        days = int(text)
    except ValueError:
        abort(400, f"days must be a whole number of days (1 to {MAX_DAYS}), not {text!r}")
    if not 1 <= days <= MAX_DAYS:
        abort(400, f"days must be between 1 and {MAX_DAYS}, not {days}")
    return days


STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #222; }
h1 { font-size: 1.4rem; } .muted { color: #666; } .warn { color: #a40; }
.backup { padding: .5rem .8rem; border-left: 4px solid #4a7; background: #f4faf6; }
.backup.bad { border-color: #c63; background: #fdf4ef; }
table { border-collapse: collapse; margin-top: 1rem; }
td, th { padding: .25rem .7rem; border-bottom: 1px solid #ddd; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
svg .bar { fill: #3b73b9; } svg .grid { stroke: #ddd; } svg text { font-size: 11px; fill: #444; }
svg .title { font-size: 13px; font-weight: 600; } svg.spark .tick { font-size: 9px; }
"""

PAGE = (
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Activity statistics</title>
<style>"""
    + STYLE
    + """</style></head><body>
<h1>Activity statistics</h1>
<p class="muted">Logged in as {{ user.name }}. Generated {{ generated }}.
{% if latest %}Last poll {{ latest_time(latest) }}; a poll every
{{ minutes(latest.interval_seconds) }} min, and a server counts as active when its last
activity lies within {{ minutes(latest.window_seconds) }} min before the poll.
{% else %}No poll recorded yet: is the poller running?{% endif %}</p>
<p class="backup{% if not backup.last_success or backup.last_result == 'failed'
   or backup.drill_result == 'failed' %} bad{% endif %}"
   id="backup-status"><strong>{{ backup.headline }}</strong>
{% if backup.last_result == 'failed' %}<br><span class="warn">The last run failed
{%- if backup.last_run_finished %} ({{ backup.last_run_finished.strftime('%Y-%m-%d %H:%M UTC') }})
{%- endif %}: {{ backup.message }}</span>{% endif %}
{% if backup.drill_result %}<br><span id="backup-drill"
{%- if backup.drill_result == 'failed' %} class="warn"{% endif %}>
{%- if backup.last_drill %}{{ backup.last_drill.strftime('%Y-%m-%d %H:%M UTC') }}: {% endif -%}
{{ backup.drill_message }}</span>{% endif %}
{% if backup.problem %}<br><span class="warn">{{ backup.problem }}</span>{% endif %}</p>
<p>Show the last
{% for d in [1, 7, 30, 90] %}<a href="{{ prefix }}?days={{ d }}">{{ d }}</a>{% if not loop.last %},
{% endif %}{% endfor %} days.
<a href="{{ prefix }}activity.sqlite" id="download">Download the database</a> (SQLite).</p>
<div id="overview">{{ overview|safe }}</div>
<h2>Each user, {{ last }}</h2>
<table id="users"><thead><tr><th>user</th><th>active time (h:mm)</th><th>last seen (UTC)</th>
<th>active minutes per day</th></tr></thead><tbody>
{% for row in rows %}<tr><td>{{ row.name }}</td><td class="num">{{ row.active }}</td>
<td>{{ row.last_seen }}</td><td>{{ row.chart|safe }}</td></tr>
{% else %}<tr><td colspan="4" class="muted">No users seen in this range yet.</td></tr>
{% endfor %}</tbody></table>
<p class="muted">On the hub host, <code>docker exec swarmhub-stats python -m swarmhub.stats
report --help</code> gives the same numbers as tables or CSV.</p>
</body></html>"""
)

ERROR_PAGE = (
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title><style>"""
    + STYLE
    + """</style></head><body><h1>{{ title }}</h1><p id="message">{{ message }}</p></body></html>"""
)
