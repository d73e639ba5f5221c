"""The exchange's HTTP API (swarmhub.common.exchange_protocol), a Flask app.

Every request carries a hub token; the hub says whose it is (HubAuth's
user_for_token, cached briefly), the course book says what that caller may do in
the course, and only then is anything read or kept.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

from flask import Flask, Response, jsonify, request, send_file
from werkzeug.exceptions import HTTPException

from ..common.exchange_protocol import API_PREFIX, ARCHIVE_TYPE, FEEDBACK_TYPE, check_course
from .archives import BadArchive
from .courses import Caller, CourseBook
from .store import Exists, NotFound, Store

log = logging.getLogger("swarmhub.exchange")

MAX_FEEDBACK_BYTES = 20 * 2**20


class TokenCheck(Protocol):
    """What the app uses of jupyterhub.services.auth.HubAuth."""

    def user_for_token(self, token: str) -> dict[str, Any] | None: ...


def hub_auth() -> TokenCheck:
    """HubAuth from the environment (JUPYTERHUB_API_URL, JUPYTERHUB_API_TOKEN,
    JUPYTERHUB_SERVICE_NAME): a token is good when it may access this service."""
    from jupyterhub.services.auth import HubAuth

    # a token's answer is kept this long: a removed student is refused within it
    return cast(TokenCheck, HubAuth(cache_max_age=30))


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class ExchangeSettings:
    root: Path
    courses_file: Path
    group_file: Path


def create_app(settings: ExchangeSettings, auth: TokenCheck | None = None) -> Flask:
    app = Flask(__name__)
    checker = auth if auth is not None else hub_auth()
    book = CourseBook(settings.courses_file, settings.group_file)
    store = Store(settings.root)

    def caller() -> Caller:
        header = request.headers.get("Authorization", "")
        kind, _, token = header.partition(" ")
        if kind.lower() not in ("token", "bearer") or not token.strip():
            raise Refused(401, "The exchange needs your server's hub token; restart your server.")
        model = checker.user_for_token(token.strip())
        if not model:
            raise Refused(
                403,
                "The hub did not accept your server's token for the course exchange; "
                "restart your server.",
            )
        return Caller(kind=str(model.get("kind", "user")), name=str(model["name"]))

    def role(course: str, *allowed: str) -> tuple[Caller, str]:
        check_course(course)  # a bad name gets its own message, not "not in the course"
        who = caller()
        found = book.role(course, who)
        if found is None:
            raise Refused(403, f"You are not in the course {course}.")
        if allowed and found not in allowed:
            raise Refused(
                403, f"Only the formgrader of {course} may do that (you are {found} there)."
            )
        return who, found

    def may_see(course: str, student: str) -> None:
        who, found = role(course)
        if found == "formgrader" or (found in ("student", "staff") and who.name == student):
            return
        raise Refused(403, f"You may see only your own submissions in {course}.")

    def route(rule: str, methods: list[str]) -> Callable[[Callable[..., Any]], Any]:
        return app.route(API_PREFIX + rule, methods=methods)

    @app.get("/healthz")
    def healthz() -> str:
        return "ok"

    @route("courses", ["GET"])
    def courses() -> Response:
        roles = book.roles(caller())
        return jsonify(courses=[{"course": c, "role": r} for c, r in sorted(roles.items())])

    @route("courses/<course>/assignments", ["GET"])
    def assignments(course: str) -> Response:
        role(course)
        return jsonify(assignments=store.released(course))

    @route("courses/<course>/assignments/<assignment>", ["GET"])
    def fetch(course: str, assignment: str) -> Response:
        role(course)
        return send_file(store.release_archive(course, assignment), mimetype=ARCHIVE_TYPE)

    @route("courses/<course>/assignments/<assignment>", ["PUT"])
    def release(course: str, assignment: str) -> Response:
        role(course, "formgrader")
        force = request.args.get("force") == "1"
        meta = store.release(course, assignment, request.stream, force)
        log.info("%s: released %s (%d notebooks)", course, assignment, len(meta["notebooks"]))
        return jsonify(meta)

    @route("courses/<course>/assignments/<assignment>", ["DELETE"])
    def unrelease(course: str, assignment: str) -> Response:
        role(course, "formgrader")
        store.unrelease(course, assignment)
        log.info("%s: took back the release of %s", course, assignment)
        return jsonify(assignment=assignment)

    @route("courses/<course>/assignments/<assignment>/submissions", ["POST"])
    def submit(course: str, assignment: str) -> Response:
        who, _ = role(course, "student", "staff")
        store.release_archive(course, assignment)  # only what was released
        meta = store.submit(course, who.name, assignment, request.stream)
        log.info("%s: %s submitted %s at %s", course, who.name, assignment, meta["timestamp"])
        return jsonify(meta)

    @route("courses/<course>/submissions", ["GET"])
    def submissions(course: str) -> Response:
        who, found = role(course)
        student = request.args.get("student") or None
        if found != "formgrader":
            student = who.name  # one's own, whatever was asked
        listed = store.submissions(course, request.args.get("assignment") or None, student)
        return jsonify(submissions=listed)

    @route("courses/<course>/submissions/<student>/<assignment>/<ident>", ["GET"])
    def submission(course: str, student: str, assignment: str, ident: str) -> Response:
        may_see(course, student)
        path = store.submission_archive(course, student, assignment, ident)
        return send_file(path, mimetype=ARCHIVE_TYPE)

    @route("courses/<course>/feedback/<student>/<assignment>/<ident>/<notebook>.html", ["PUT"])
    def put_feedback(
        course: str, student: str, assignment: str, ident: str, notebook: str
    ) -> Response:
        role(course, "formgrader")
        html = request.get_data(cache=False)
        if len(html) > MAX_FEEDBACK_BYTES:
            raise Refused(413, f"feedback on {notebook} is over {MAX_FEEDBACK_BYTES // 2**20} MiB")
        store.put_feedback(course, student, assignment, ident, notebook, html)
        log.info("%s: feedback on %s/%s/%s for %s", course, assignment, ident, notebook, student)
        return jsonify(notebook=notebook)

    @route("courses/<course>/feedback/<student>/<assignment>/<ident>/<notebook>.html", ["GET"])
    def get_feedback(
        course: str, student: str, assignment: str, ident: str, notebook: str
    ) -> Response:
        may_see(course, student)
        path = store.feedback_file(course, student, assignment, ident, notebook)
        return send_file(path, mimetype=FEEDBACK_TYPE)

    @app.errorhandler(Refused)
    def refused(e: Refused) -> tuple[Response, int]:
        return jsonify(error=e.message), e.status

    @app.errorhandler(NotFound)
    def not_found(e: NotFound) -> tuple[Response, int]:
        return jsonify(error=str(e.args[0])), 404

    @app.errorhandler(Exists)
    def exists(e: Exists) -> tuple[Response, int]:
        return jsonify(error=str(e.args[0])), 409

    @app.errorhandler(BadArchive)
    def bad_archive(e: BadArchive) -> tuple[Response, int]:
        return jsonify(error=f"The exchange refused the upload: {e}."), 400

    @app.errorhandler(ValueError)
    def bad_name(e: ValueError) -> tuple[Response, int]:
        return jsonify(error=str(e)), 400

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException) -> tuple[Response, int]:
        return jsonify(error=e.description or e.name), e.code or 500

    return app
