"""The course exchange's HTTP API: what the exchange service (swarmhub.exchange, a
sidecar on the hub host) answers and nbgrader's exchange plugin in every server
(swarmhub.nbexchange) asks. Names, paths, formats and limits both sides share.

Who asks is the hub's answer for the token in `Authorization: token T`: the
user a server belongs to (its JUPYTERHUB_API_TOKEN), or the course's formgrader
service. Never a name the caller sends: a student submits only as themselves.

Routes, under API_PREFIX (JSON unless said otherwise; errors are
{"error": "a sentence for the person"} with a 4xx or 5xx status):

  GET    courses                                   {"courses": [{"course", "role"}]}
  GET    courses/C/assignments                     {"assignments": [released]}
  GET    courses/C/assignments/A                   the released files (ARCHIVE_TYPE)
  PUT    courses/C/assignments/A[?force=1]         release (formgrader), body ARCHIVE_TYPE
  DELETE courses/C/assignments/A                   take a release back (formgrader)
  POST   courses/C/assignments/A/submissions       submit as oneself, body ARCHIVE_TYPE;
                                                   answers the submission, stamped here
  GET    courses/C/submissions[?assignment=A&student=S]
                                                   {"submissions": [submission]}: one's
                                                   own, or everyone's for the formgrader
  GET    courses/C/submissions/S/A/ID              that submission's files (ARCHIVE_TYPE)
  PUT    courses/C/feedback/S/A/ID/NOTEBOOK.html   release feedback (formgrader), text/html
  GET    courses/C/feedback/S/A/ID/NOTEBOOK.html   the feedback (S themselves, formgrader)

released:   {"assignment", "released_at", "notebooks": [notebook ids]}
submission: {"student", "assignment", "id", "timestamp", "notebooks",
             "feedback": {notebook id: sha256 of its feedback html}}

Roles: "student" (listed as a student), "staff" (an instructor or grader: sees the
course, fetches and lists like a student), "formgrader" (the course's formgrader
service: releases, collects, returns feedback). Standard library only: both sides
import it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

API_PREFIX = "/api/"
ARCHIVE_TYPE = "application/gzip"  # a tar.gz of one folder's contents
FEEDBACK_TYPE = "text/html; charset=utf-8"

# Environment of every server (and of the formgrader): where the exchange answers.
URL_ENV = "SWARMHUB_EXCHANGE_URL"
# The hub service each course's formgrader is: FORMGRADER_PREFIX + course name.
FORMGRADER_PREFIX = "formgrader-"

ROLES = ("student", "staff", "formgrader")

COURSE_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,19}\Z")
COURSE_RULE = "1-20 lower-case letters, digits, '-' or '_', starting with a letter"
# nbgrader's own ids end up in paths and in "+"-joined names: none of "/", "+", " ".
ITEM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")
ITEM_RULE = "1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
SUBMISSION_ID = re.compile(r"^[0-9]{8}T[0-9]{6}\.[0-9]{6}Z-[0-9a-f]{8}\Z")

# nbgrader's default Exchange.timestamp_format, in UTC: what timestamp.txt holds.
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f %Z"


def check_course(name: str) -> str:
    if not isinstance(name, str) or not COURSE_NAME.match(name):
        raise ValueError(f"{name!r} is not a course name: use {COURSE_RULE}")
    return name


def check_item(name: str, what: str = "assignment") -> str:
    """An assignment or notebook id."""
    if not isinstance(name, str) or not ITEM_NAME.match(name) or name in {".", ".."}:
        raise ValueError(f"{name!r} is not a valid {what} name: use {ITEM_RULE}")
    return name


def formgrader_service(course: str) -> str:
    return FORMGRADER_PREFIX + course


def course_of_formgrader(service: str) -> str | None:
    """The course whose formgrader a hub service is (None: it is none)."""
    if not service.startswith(FORMGRADER_PREFIX):
        return None
    course = service[len(FORMGRADER_PREFIX) :]
    return course if COURSE_NAME.match(course) else None


def timestamp_text(when: datetime) -> str:
    """`when` as nbgrader writes it in timestamp.txt ("2026-12-01 17:00:00.123456 UTC")."""
    return when.astimezone(UTC).strftime(TIMESTAMP_FORMAT)


def submission_id(when: datetime, random_hex: str) -> str:
    """A submission's id: sortable by time, unique by an 8-hex-digit random tail."""
    return when.astimezone(UTC).strftime("%Y%m%dT%H%M%S.%fZ") + "-" + random_hex
