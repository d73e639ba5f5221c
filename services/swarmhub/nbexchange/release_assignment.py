"""Release (formgrader): release/A's contents to the exchange."""

from __future__ import annotations

import os

from nbgrader.exchange.abc import ExchangeReleaseAssignment as ABCExchangeReleaseAssignment

from swarmhub.common.exchange_protocol import ARCHIVE_TYPE

from .exchange import Exchange


class ExchangeReleaseAssignment(Exchange, ABCExchangeReleaseAssignment):
    def init_src(self) -> None:
        coursedir = self.coursedir
        self.src_path = coursedir.format_path(
            coursedir.release_directory, ".", coursedir.assignment_id
        )
        if not os.path.isdir(self.src_path):
            source = coursedir.format_path(coursedir.source_directory, ".", coursedir.assignment_id)
            if os.path.isdir(source):
                # nbgrader's own message: the instructor forgot generate_assignment
                self.fail(
                    f"Assignment found in '{source}' but not '{self.src_path}',"
                    " run `nbgrader generate_assignment` first."
                )
            self.fail(f"Assignment not found at: {self.src_path}")

    def init_dest(self) -> None:
        self.course = self.require_course()

    def copy_files(self) -> None:
        assignment = self.coursedir.assignment_id
        self.log.info("Source: %s", self.src_path)
        body = self.pack(self.src_path)
        params = {"force": "1"} if self.force else None
        self.api(
            "PUT",
            "courses",
            self.course,
            "assignments",
            assignment,
            params=params,
            body=body,
            content_type=ARCHIVE_TYPE,
        )
        self.log.info("Released as: %s %s", self.course, assignment)
