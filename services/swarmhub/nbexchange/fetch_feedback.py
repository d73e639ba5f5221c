"""Fetch feedback (student): A/feedback/TIMESTAMP/NB.html for each graded submission."""

from __future__ import annotations

import hashlib
import os

from nbgrader.exchange.abc import ExchangeFetchFeedback as ABCExchangeFetchFeedback

from . import archive
from .exchange import Exchange


def sha256_of(path: str) -> str | None:
    if not os.path.isfile(path) or os.path.islink(path):
        return None
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


class ExchangeFetchFeedback(Exchange, ABCExchangeFetchFeedback):
    def init_src(self) -> None:
        self.course = self.require_course()
        assignment = self.coursedir.assignment_id
        params = {"assignment": assignment} if assignment not in ("", "*") else None
        answer = self.api_json("GET", "courses", self.course, "submissions", params=params)
        self.submissions = [
            s
            for s in answer["submissions"]
            if assignment in ("", "*") or s["assignment"] == assignment
        ]

    def init_dest(self) -> None:
        pass

    def copy_files(self) -> None:
        fetched = 0
        for s in sorted(self.submissions, key=lambda s: s["timestamp"]):
            if not s["feedback"]:
                self.log.warning(
                    "No feedback yet for '%s/%s' submitted at %s",
                    self.course,
                    s["assignment"],
                    s["timestamp"],
                )
                continue
            timestamp = self.checked(s["timestamp"], "timestamp")
            assignment_path = self.local_assignment(
                self.course, self.checked(s["assignment"], "assignment")
            )
            base = os.path.abspath(self.assignment_dir)
            for notebook, checksum in sorted(s["feedback"].items()):
                self.checked(notebook, "notebook")
                dest = os.path.join(assignment_path, "feedback", timestamp, f"{notebook}.html")
                if sha256_of(dest) == checksum:
                    self.log.debug("Feedback already fetched: %s", dest)
                    continue
                html = self.api(
                    "GET",
                    "courses",
                    self.course,
                    "feedback",
                    s["student"],
                    s["assignment"],
                    s["id"],
                    f"{notebook}.html",
                    limit=self.max_archive_bytes,
                )
                try:
                    archive.write_file(dest, html, base)
                except archive.UnsafeArchive as e:
                    self.fail(str(e))
                fetched += 1
                self.log.info("Fetched feedback: %s", dest)
        if not fetched:
            self.log.info("No new feedback for %s %s", self.course, self.coursedir.assignment_id)
