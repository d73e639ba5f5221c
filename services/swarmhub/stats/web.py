"""The stats page: a Flask app behind the hub's login (login.py), at the service prefix.

Routes, all under the prefix (/services/stats/):
  ""                active users per hour, the users' table (searched, sorted and paged by
                    query parameters, see user_list.py) with a heat map of its page,
                    backup status
  activity.sqlite   a consistent copy of the database (SQLite backup API)
  oauth_callback    the end of the hub's OAuth login
  healthz           "ok", without login (readiness checks)

Pages are Jinja templates in templates/, rendered by Flask.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from flask import Flask, abort, render_template, request, send_file
from jinja2 import StrictUndefined
from sqlalchemy.engine import Engine
from werkzeug.exceptions import HTTPException

from .backup_status import read_backup_status
from .login import HubLogin, LoginFlow, hub_oauth
from .models import backup_to
from .user_list import BadQuery, ListQuery
from .views import index_page, minutes, poll_time

__all__ = ["HubLogin", "WebSettings", "create_app"]

log = logging.getLogger("swarmhub.stats.web")


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


def create_app(settings: WebSettings, engine: Engine, auth: HubLogin | None = None) -> Flask:
    app = Flask(__name__)
    login = auth if auth is not None else hub_oauth()
    flow = LoginFlow(login, settings.prefix, page_error)
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
    # a name the templates get wrong fails the page in tests, not blank on it
    app.jinja_env.undefined = StrictUndefined
    flow.add_callback(app)

    @app.get(prefix + "healthz")
    def healthz() -> str:
        return "ok"

    @app.get(prefix)
    @flow.viewer_only
    def index(user: dict[str, Any]) -> Any:
        try:
            query = ListQuery.from_args(request.args, settings.default_days)
        except BadQuery as e:
            abort(400, str(e))
        now = datetime.now(UTC)
        page = index_page(engine, query, now)
        return render_template(
            "index.html",
            user=user,
            page=page,
            query=query,
            backup=read_backup_status(settings.backup_status),
            prefix=prefix,
            generated=now.strftime("%Y-%m-%d %H:%M UTC"),
            latest_time=poll_time,
            minutes=minutes,
        )

    @app.get(prefix + "activity.sqlite")
    @flow.viewer_only
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
    return render_template("error.html", title=title, message=message), status
