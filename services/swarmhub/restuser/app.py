"""The restuser web app: GET and POST /users/NAME, answered as JSON."""

from __future__ import annotations

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException
from werkzeug.routing import BaseConverter

from .config import RestuserConfig
from .errors import RestuserError
from .useradd import Outcome, UserAnswer, ensure_user, get_user


def create_app(config: RestuserConfig) -> Flask:
    """The app; it serves `config` and keeps no other state."""
    app = Flask(__name__)
    app.url_map.converters["anything"] = AnythingConverter

    @app.get("/users/<anything:name>")
    def show_user(name: str) -> tuple[Response, int]:
        return _answer(get_user(config, name)), 200

    @app.post("/users/<anything:name>")
    def ensure(name: str) -> tuple[Response, int]:
        answer = ensure_user(config, name)
        if answer.outcome is Outcome.EXISTED:
            return _answer(answer), 200
        account = answer.account
        quota = "" if answer.quota is None else f", quota {answer.quota.describe()}"
        what = "created user" if answer.outcome is Outcome.CREATED else "made the missing home of"
        # one line per change, and never anything secret (there is nothing secret here)
        app.logger.info(
            "%s %s (uid %d, gid %d, home %s%s)",
            what,
            account.name,
            account.uid,
            account.gid,
            account.home,
            quota,
        )
        return _answer(answer), 201 if answer.outcome is Outcome.CREATED else 200

    @app.errorhandler(RestuserError)
    def refused(e: RestuserError) -> tuple[Response, int]:
        # details quote request names with repr(), so a name cannot forge log lines
        log = app.logger.error if e.status >= 500 else app.logger.warning
        log("%d %s: %s", e.status, e.error, e.detail)
        return _error(e.error, e.detail), e.status

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException) -> tuple[Response, int]:
        response = _error(e.name.lower().replace(" ", "-"), e.description or "")
        # keep headers such as Allow of a 405, but answer JSON
        for key, value in e.get_headers():
            if key.lower() != "content-type":
                response.headers[key] = value
        return response, e.code or 500

    @app.errorhandler(Exception)
    def crashed(e: Exception) -> tuple[Response, int]:
        app.logger.exception("restuser failed")
        return _error("internal-error", f"{type(e).__name__}: {e}"), 500

    return app


class AnythingConverter(BaseConverter):
    """Any text, even empty or with "/" or newlines, so that every name a client sends
    reaches the name check and gets its answer rather than a routing 404."""

    regex = r"[\s\S]*"
    part_isolating = False


def _answer(answer: UserAnswer) -> Response:
    account = answer.account
    quota = None if answer.quota is None else answer.quota.as_json()
    return jsonify(
        name=account.name, uid=account.uid, gid=account.gid, home=account.home, quota=quota
    )


def _error(error: str, detail: str) -> Response:
    return jsonify(error=error, detail=detail)
