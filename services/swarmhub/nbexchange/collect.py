"""Collect (formgrader): each student's submission into submitted/S/A, with the
exchange's timestamp in timestamp.txt (nbgrader computes lateness from it)."""

from __future__ import annotations

import os
import shutil
from collections import defaultdict
from datetime import datetime
from typing import Any

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.exchange.abc import ExchangeCollect as ABCExchangeCollect
from nbgrader.utils import parse_utc

from swarmhub.common.exchange_protocol import SUBMISSION_ID

from . import archive
from .exchange import Exchange

# Beside timestamp.txt in a collected submission: which submission it is, so
# release_feedback finds it again (autograde and generate_feedback carry it on,
# as they carry every non-notebook file).
SUBMISSION_FILE = "swarmhub_submission.txt"


def pick(
    records: list[dict[str, Any]], duedate: datetime | None, before_duedate: bool
) -> dict[str, Any]:
    """One student's submission to collect, as default ExchangeCollect picks it: the
    latest, or with before_duedate the latest on or before the due date (the latest
    of all when none is)."""
    records = sorted(records, key=lambda r: r["timestamp"], reverse=True)
    if duedate is None or not before_duedate:
        return records[0]
    in_time = [r for r in records if r["timestamp"] <= duedate]
    return in_time[0] if in_time else records[0]


class ExchangeCollect(Exchange, ABCExchangeCollect):
    def init_src(self) -> None:
        self.course = self.require_course()
        assignment = self.coursedir.assignment_id
        params = {"assignment": assignment}
        student = self.coursedir.student_id
        if student and student != "*":
            params["student"] = student
        answer = self.api_json("GET", "courses", self.course, "submissions", params=params)
        by_student: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for s in answer["submissions"]:
            if s["assignment"] != assignment:
                continue
            record = {
                "username": s["student"],
                "id": s["id"],
                "timestamp": parse_utc(s["timestamp"]),
                "timestamp_text": s["timestamp"],
            }
            by_student[s["student"]].append(record)

        with Gradebook(self.coursedir.db_url, self.course) as gb:
            try:
                self.duedate = gb.find_assignment(assignment).duedate
            except MissingEntry:
                self.duedate = None
        self.src_records = [
            pick(records, self.duedate, self.before_duedate) for records in by_student.values()
        ]

    def init_dest(self) -> None:
        pass

    def copy_files(self) -> None:
        assignment = self.coursedir.assignment_id
        if not self.src_records:
            self.log.warning(
                "No submissions of '%s' for course '%s' to collect", assignment, self.course
            )
        else:
            self.log.info(
                "Processing %d submissions of '%s' for course '%s'",
                len(self.src_records),
                assignment,
                self.course,
            )
        for rec in sorted(self.src_records, key=lambda r: r["username"]):
            self.collect_one(rec)

    def collect_one(self, rec: dict[str, Any]) -> None:
        student, assignment = rec["username"], self.coursedir.assignment_id
        dest = self.coursedir.format_path(self.coursedir.submitted_directory, student, assignment)
        copy = updating = False
        if os.path.isdir(dest):
            existing = self.coursedir.get_existing_timestamp(dest)
            new = rec["timestamp"]
            if self.update and (existing is None or new > existing):
                copy = updating = True
            elif self.before_duedate and existing != new:
                copy = updating = True
        else:
            copy = True
        if not copy:
            if self.update:
                self.log.info("No newer submission to collect: %s %s", student, assignment)
            else:
                self.log.info(
                    "Submission already exists, use --update to update: %s %s", student, assignment
                )
            return

        if not SUBMISSION_ID.match(rec["id"]):
            self.fail(f"The course exchange sent an odd submission id: {rec['id']!r}")
        data = self.api(
            "GET",
            "courses",
            self.course,
            "submissions",
            student,
            assignment,
            rec["id"],
            limit=self.max_archive_bytes,
        )
        base = self.coursedir.root
        tmp = self.unpack_new(data, os.path.dirname(dest), base, f"{student}'s submission")
        try:
            # the exchange's time and id, over whatever the student's folder held
            for name, text in (
                ("timestamp.txt", rec["timestamp_text"]),
                (SUBMISSION_FILE, rec["id"]),
            ):
                path = os.path.join(tmp, name)
                if os.path.isdir(path):
                    shutil.rmtree(path)
                archive.write_file(path, text.encode(), tmp)
            if os.path.islink(dest):
                self.fail(f"{dest} is a symbolic link: nothing is written through it")
            if updating:
                self.log.info("Updating submission: %s %s", student, assignment)
                shutil.rmtree(dest)
            else:
                self.log.info("Collecting submission: %s %s", student, assignment)
            os.rename(tmp, dest)
        except archive.UnsafeArchive as e:
            self.fail(str(e))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
