"""The builder's API, on a unix socket only the hub's container has: the hub's
environments page (admins only: the hub checks) calls it.

  GET    /api/environments                   {"environments": [...], "at_once": N}
  POST   /api/environments                   add: the request's fields and "added_by";
                                             202, or 400 {"field", "error"}, or 409
  POST   /api/environments/NAME/builds       rebuild at {"ref"}; 202, 404 or 409
  DELETE /api/environments/NAME              200, 404 or 409 (being built)
  GET    /api/environments/NAME/log?since=I&wait=S
                                             the current build's lines from I on,
                                             waiting up to S (<= 25) seconds for one
"""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from ..common.environment_catalog import CatalogError
from ..common.environment_requests import Limits, RequestError, check_ref, parse_request
from .service import BuildService

MAX_WAIT = 25.0


def create_app(service: BuildService, limits: Limits) -> Flask:
    app = Flask("swarmhub.envbuild")

    @app.get("/api/environments")
    def environments() -> Any:
        return jsonify(environments=service.environments(), at_once=service.at_once)

    @app.post("/api/environments")
    def add() -> Any:
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            return _error(400, "Send the environment as a JSON object.")
        added_by = data.get("added_by")
        if not isinstance(added_by, str) or not added_by:
            return _error(400, "added_by: who adds it is missing.")
        env_request = parse_request(data, limits, taken=service.deploy_names)
        env = service.add(env_request, added_by)
        return jsonify(environment=env.as_dict()), 202

    @app.post("/api/environments/<name>/builds")
    def rebuild(name: str) -> Any:
        data = request.get_json(silent=True) or {}
        env = service.rebuild(name, check_ref(data.get("ref")))
        return jsonify(environment=env.as_dict()), 202

    @app.delete("/api/environments/<name>")
    def remove(name: str) -> Any:
        env = service.remove(name)
        return jsonify(removed=env.as_dict())

    @app.get("/api/environments/<name>/log")
    def build_log(name: str) -> Any:
        try:
            since = max(0, int(request.args.get("since", "0")))
            wait = min(MAX_WAIT, max(0.0, float(request.args.get("wait", "0"))))
        except ValueError:
            return _error(400, "since and wait are numbers.")
        return jsonify(service.log_since(name, since, wait))

    @app.errorhandler(RequestError)
    def refused(e: RequestError) -> Any:
        return jsonify(field=e.field, error=e.message), 400

    @app.errorhandler(CatalogError)
    def conflict(e: CatalogError) -> Any:
        status = 404 if str(e).startswith("There is no built environment") else 409
        return _error(status, str(e))

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException) -> Any:
        return _error(e.code or 500, e.description or e.name)

    return app


def _error(status: int, message: str) -> Any:
    return jsonify(error=message), status
