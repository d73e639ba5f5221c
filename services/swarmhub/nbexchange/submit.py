"""Submit (student): the assignment's folder to the exchange, which stamps the time."""

from __future__ import annotations

import os

from nbgrader.exchange.abc import ExchangeSubmit as ABCExchangeSubmit
from nbgrader.utils import find_all_notebooks

from swarmhub.common.exchange_protocol import ARCHIVE_TYPE

from .exchange import Exchange


class ExchangeSubmit(Exchange, ABCExchangeSubmit):
    def init_src(self) -> None:
        self.src_path = self.local_assignment(
            self.coursedir.course_id, self.coursedir.assignment_id
        )
        # as default: the folder's name is the assignment
        self.coursedir.assignment_id = os.path.basename(self.src_path)
        if not os.path.isdir(self.src_path):
            self.fail(f"Assignment not found at: {self.src_path}")

    def init_dest(self) -> None:
        self.course = self.require_course()
        if self.authenticator is not None and not self.authenticator.has_access(
            self.coursedir.student_id, self.course
        ):
            self.fail("You do not have access to this course.")

    def released_notebooks(self) -> list[str]:
        """The released notebooks' paths as find_all_notebooks names them."""
        assignment = self.coursedir.assignment_id
        answer = self.api_json("GET", "courses", self.course, "assignments")
        for released in answer["assignments"]:
            if released["assignment"] == assignment:
                return sorted(f"{nb}.ipynb" for nb in released["notebooks"])
        self.fail(f"Assignment not found: {self.course} {assignment} is not released")

    def check_filename_diff(self) -> None:
        """nbgrader's check (default ExchangeSubmit.check_filename_diff), against the
        notebooks the exchange lists as released."""
        released_notebooks = self.released_notebooks()
        submitted_notebooks = find_all_notebooks(self.src_path)
        release_diff = [
            f"{nb}: {'FOUND' if nb in submitted_notebooks else 'MISSING'}"
            for nb in released_notebooks
        ]
        submitted_diff = [
            f"{nb}: {'OK' if nb in released_notebooks else 'EXTRA'}" for nb in submitted_notebooks
        ]
        missing = any(line.endswith("MISSING") for line in release_diff)
        extra = any(line.endswith("EXTRA") for line in submitted_diff)
        if not (missing or extra):
            return
        diff_msg = "Expected:\n\t{}\nSubmitted:\n\t{}".format(
            "\n\t".join(release_diff), "\n\t".join(submitted_diff)
        )
        assignment = self.coursedir.assignment_id
        if missing and self.strict:
            self.fail(
                f"Assignment {assignment} not submitted. "
                f"There are missing notebooks for the submission:\n{diff_msg}"
            )
        self.log.warning(
            "Possible missing notebooks and/or extra notebooks submitted for assignment %s:\n%s",
            assignment,
            diff_msg,
        )

    def copy_files(self) -> None:
        assignment = self.coursedir.assignment_id
        self.log.info("Source: %s", self.src_path)
        self.check_filename_diff()
        body = self.pack(self.src_path)
        submission = self.api_json(
            "POST",
            "courses",
            self.course,
            "assignments",
            assignment,
            "submissions",
            body=body,
            content_type=ARCHIVE_TYPE,
        )
        # the exchange's clock, not this server's, is the submission's time
        self.timestamp = submission["timestamp"]
        self.submission_id = submission["id"]
        self.log.info("Submitted as: %s %s %s", self.course, assignment, self.timestamp)
