"""The restuser web app: GET and POST /users/NAME, answered as JSON."""

from __future__ import annotations

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException
from werkzeug.routing import BaseConverter

from ..accounts import Account
from .config import RestuserConfig
from .errors import RestuserError
from .useradd import ensure_user, get_user


def create_app(config: RestuserConfig) -> Flask:
    """The app; it serves `config` and keeps no other state."""
    app = Flask(__name__)
    app.url_map.converters["anything"] = AnythingConverter

    @app.get("/users/<anything:name>")
    def show_user(name: str) -> tuple[Response, int]:
        return _answer(get_user(config, name)), 200

    @app.post("/users/<anything:name>")
    def ensure(name: str) -> tuple[Response, int]:
        account, created = ensure_user(config, name)
        if not created:
            return _answer(account), 200
        app.logger.info(
            "created user %s (uid %d, gid %d, home %s)",
            account.name,
            account.uid,
            account.gid,
            account.home,
        )
        return _answer(account), 201

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


def _answer(account: Account) -> Response:
    return jsonify(name=account.name, uid=account.uid, gid=account.gid, home=account.home)


def _error(error: str, detail: str) -> Response:
    return jsonify(error=error, detail=detail)
