"""Fetch (student): a released assignment into the person's folder."""

from __future__ import annotations

import os
import shutil

from nbgrader.exchange.abc import ExchangeFetchAssignment as ABCExchangeFetchAssignment

from . import archive
from .exchange import Exchange


class ExchangeFetchAssignment(Exchange, ABCExchangeFetchAssignment):
    def init_src(self) -> None:
        self.course = self.require_course()
        if self.authenticator is not None and not self.authenticator.has_access(
            self.coursedir.student_id, self.course
        ):
            self.fail("You do not have access to this course.")

    def init_dest(self) -> None:
        self.dest_path = self.local_assignment(self.course, self.coursedir.assignment_id)
        if os.path.isdir(self.dest_path) and not self.replace_missing_files:
            root = os.path.relpath(self.dest_path, os.path.abspath(self.assignment_dir))
            self.fail(f"You already have a copy of the assignment in this directory: {root}")

    def copy_files(self) -> None:
        assignment = self.coursedir.assignment_id
        data = self.api(
            "GET", "courses", self.course, "assignments", assignment, limit=self.max_archive_bytes
        )
        base = os.path.abspath(self.assignment_dir)
        parent = os.path.dirname(self.dest_path)
        tmp = self.unpack_new(data, parent, base, f"{self.course} {assignment}")
        try:
            self.log.info("Destination: %s", self.dest_path)
            if os.path.islink(self.dest_path):
                self.fail(f"{self.dest_path} is a symbolic link: nothing is written through it")
            if os.path.isdir(self.dest_path):
                archive.place_missing(tmp, self.dest_path, self.log)
            else:
                os.rename(tmp, self.dest_path)
        except archive.UnsafeArchive as e:
            self.fail(str(e))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        self.log.info("Fetched as: %s %s", self.course, assignment)
