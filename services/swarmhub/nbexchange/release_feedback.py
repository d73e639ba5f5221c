"""Release feedback (formgrader): feedback/S/A/NB.html to the submission it grades."""

from __future__ import annotations

import glob
import os
import re
from typing import Any

from nbgrader.exchange.abc import ExchangeReleaseFeedback as ABCExchangeReleaseFeedback
from nbgrader.utils import parse_utc

from swarmhub.common.exchange_protocol import FEEDBACK_TYPE, SUBMISSION_ID

from .collect import SUBMISSION_FILE
from .exchange import Exchange


class ExchangeReleaseFeedback(Exchange, ABCExchangeReleaseFeedback):
    def init_src(self) -> None:
        student = self.coursedir.student_id if self.coursedir.student_id else "*"
        self.src_path = self.coursedir.format_path(
            self.coursedir.feedback_directory, student, self.coursedir.assignment_id
        )

    def init_dest(self) -> None:
        self.course = self.require_course()
        self._submissions: dict[str, list[dict[str, Any]]] = {}

    def submissions_of(self, student: str) -> list[dict[str, Any]]:
        if student not in self._submissions:
            params = {"assignment": self.coursedir.assignment_id, "student": student}
            answer = self.api_json("GET", "courses", self.course, "submissions", params=params)
            self._submissions[student] = answer["submissions"]
        return self._submissions[student]

    def submission_id(self, student: str, feedback_dir: str) -> str | None:
        """The id collect wrote (carried on by autograde and generate_feedback), or
        else the exchange's submission whose timestamp is timestamp.txt's."""
        id_path = os.path.join(feedback_dir, SUBMISSION_FILE)
        if os.path.isfile(id_path):
            with open(id_path) as fh:
                found = fh.read().strip()
            if SUBMISSION_ID.match(found):
                return found
            self.log.warning("Ignoring %s: not a submission id", id_path)
        ts_path = os.path.join(feedback_dir, "timestamp.txt")
        if not os.path.isfile(ts_path):
            return None
        with open(ts_path) as fh:
            timestamp = parse_utc(fh.read().strip())
        for s in self.submissions_of(student):
            if s["assignment"] == self.coursedir.assignment_id and parse_utc(s["timestamp"]) == (
                timestamp
            ):
                return str(s["id"])
        return None

    def copy_files(self) -> None:
        coursedir = self.coursedir
        assignment = coursedir.assignment_id
        excluded = set(coursedir.student_id_exclude.split(",")) - {""}
        regexp = re.escape(os.path.sep).join(
            [
                coursedir.format_path(
                    coursedir.feedback_directory, "(?P<student_id>.*)", assignment, escape=True
                ),
                "(?P<notebook_id>.*).html",
            ]
        )
        not_released = []
        for html_file in sorted(glob.glob(os.path.join(self.src_path, "*.html"))):
            m = re.match(regexp, html_file)
            if m is None:
                self.log.error("Could not match '%s' with regexp '%s'", html_file, regexp)
                continue
            student, notebook = m.group("student_id"), m.group("notebook_id")
            if student in excluded:
                self.log.debug("Skipping student '%s'", student)
                continue
            found = self.submission_id(student, os.path.dirname(html_file))
            if found is None:
                self.log.error(
                    "No submission on the course exchange matches %s: not released", html_file
                )
                not_released.append(f"{student} {notebook}")
                continue
            self.log.info(
                "Releasing feedback for student '%s' on assignment '%s/%s/%s' (%s)",
                student,
                self.course,
                assignment,
                notebook,
                found,
            )
            with open(html_file, "rb") as fh:
                body = fh.read()
            self.api(
                "PUT",
                "courses",
                self.course,
                "feedback",
                student,
                assignment,
                found,
                f"{notebook}.html",
                body=body,
                content_type=FEEDBACK_TYPE,
            )
        if not_released:
            self.fail(
                "Feedback not released, no matching submission on the course exchange"
                " (collect again, then generate feedback): " + ", ".join(not_released)
            )
