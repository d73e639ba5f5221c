"""List: released assignments (outbound), or submissions (inbound for the
formgrader, cached for a student), from the exchange, in the very dicts nbgrader's
default ExchangeList returns: the Assignments tab and the formgrader read them."""

from __future__ import annotations

import glob
import os
from collections import defaultdict
from typing import Any

from nbgrader.exchange.abc import ExchangeList as ABCExchangeList

from swarmhub.common.exchange_protocol import API_PREFIX

from .client import route
from .exchange import Exchange
from .fetch_feedback import sha256_of


class ExchangeList(Exchange, ABCExchangeList):
    def init_src(self) -> None:
        if self.remove and (self.inbound or self.cached):
            self.fail("Submissions stay on the course exchange: they cannot be removed from here.")

    def init_dest(self) -> None:
        pass

    def copy_files(self) -> None:
        pass

    def _wanted(self, value: str) -> str | None:
        """A --course/--assignment/--student filter, None for all."""
        return None if value in ("", "*") else value

    def _where(self, *segments: str) -> str:
        """A listed item's "path": its address on the exchange (it has no local file)."""
        return self.client.url + API_PREFIX + route(*segments)

    # outbound

    def released(self) -> list[dict[str, Any]]:
        wanted = self._wanted(self.coursedir.assignment_id)
        found = []
        for course in self.courses():
            answer = self.api_json("GET", "courses", course, "assignments")
            for released in sorted(answer["assignments"], key=lambda r: r["assignment"]):
                assignment = self.checked(released["assignment"], "assignment")
                if wanted is not None and assignment != wanted:
                    continue
                found.append(self.released_info(course, assignment, released["notebooks"]))
        return found

    def released_info(self, course: str, assignment: str, notebooks: list[str]) -> dict[str, Any]:
        local = self.local_assignment(course, assignment)
        info: dict[str, Any] = {"course_id": course, "assignment_id": assignment}
        if self.remove:
            info["status"] = "removed"
        elif os.path.exists(local):
            info["status"] = "fetched"
        else:
            info["status"] = "released"
        if info["status"] == "fetched":
            # the notebooks the person has, as default lists them
            info["path"] = local
            paths = sorted(glob.glob(os.path.join(local, "*.ipynb")))
        else:
            info["path"] = self._where("courses", course, "assignments", assignment)
            paths = [f"{info['path']}/{nb}.ipynb" for nb in sorted(notebooks)]
        info["notebooks"] = [
            {
                "notebook_id": os.path.splitext(os.path.basename(p))[0],
                "path": os.path.abspath(p) if info["status"] == "fetched" else p,
            }
            for p in paths
        ]
        return info

    # inbound, cached

    def submitted(self) -> list[dict[str, Any]]:
        params = {}
        assignment = self._wanted(self.coursedir.assignment_id)
        if assignment is not None:
            params["assignment"] = assignment
        student = self._wanted(self.coursedir.student_id)
        if self.inbound and student is not None:
            params["student"] = student
        groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
        for course in self.courses():
            answer = self.api_json("GET", "courses", course, "submissions", params=params or None)
            for s in answer["submissions"]:
                if assignment is not None and s["assignment"] != assignment:
                    continue
                if self.inbound and student is not None and s["student"] != student:
                    continue
                info = self.submission_info(course, s)
                groups[(course, info["student_id"], info["assignment_id"])].append(info)
        return [
            {
                "course_id": key[0],
                "student_id": key[1],
                "assignment_id": key[2],
                "status": "submitted",
                "submissions": sorted(groups[key], key=lambda x: x["timestamp"]),
            }
            for key in sorted(groups)
        ]

    def submission_info(self, course: str, s: dict[str, Any]) -> dict[str, Any]:
        assignment = self.checked(s["assignment"], "assignment")
        student = s["student"]
        timestamp = self.checked(s["timestamp"], "timestamp")
        if self.path_includes_course:
            assignment_dir = os.path.join(self.assignment_dir, course, assignment)
        else:
            assignment_dir = os.path.join(self.assignment_dir, assignment)
        info: dict[str, Any] = {
            "course_id": course,
            "student_id": student,
            "assignment_id": assignment,
            "timestamp": timestamp,
        }
        if self.inbound:
            info["random_string"] = None  # default's key; the exchange's id replaces it
        info["status"] = "submitted"
        info["path"] = self._where("courses", course, "submissions", student, assignment, s["id"])
        feedback = s.get("feedback") or {}
        info["notebooks"] = []
        for notebook in sorted(s["notebooks"]):
            local = os.path.join(assignment_dir, "feedback", timestamp, f"{notebook}.html")
            local_sum = sha256_of(local)
            nb_info = {
                "notebook_id": notebook,
                "path": f"{info['path']}/{notebook}.ipynb",
                "has_local_feedback": local_sum is not None,
                "has_exchange_feedback": notebook in feedback,
                "local_feedback_path": local if local_sum is not None else None,
                "feedback_updated": local_sum is not None
                and notebook in feedback
                and feedback[notebook] != local_sum,
            }
            info["notebooks"].append(nb_info)
        notebooks = info["notebooks"]
        info["has_local_feedback"] = bool(notebooks) and all(
            nb["has_local_feedback"] for nb in notebooks
        )
        info["has_exchange_feedback"] = bool(notebooks) and all(
            nb["has_exchange_feedback"] for nb in notebooks
        )
        info["feedback_updated"] = any(nb["feedback_updated"] for nb in notebooks)
        if info["has_local_feedback"]:
            full = os.path.abspath(assignment_dir)
            folder = full if os.path.exists(full) else assignment_dir
            info["local_feedback_path"] = os.path.join(folder, "feedback", timestamp)
        else:
            info["local_feedback_path"] = None
        return info

    # nbgrader's entry points

    def parse_assignments(self) -> list[dict[str, Any]]:
        if self.inbound or self.cached:
            return self.submitted()
        return self.released()

    def list_files(self) -> list[dict[str, Any]]:
        assignments = self.parse_assignments()
        if self.inbound or self.cached:
            self.log.info("Submitted assignments:")
            for assignment in assignments:
                for info in assignment["submissions"]:
                    self.log.info(self.format_inbound_assignment(info))
        else:
            self.log.info("Released assignments:")
            for info in assignments:
                self.log.info(self.format_outbound_assignment(info))
        return assignments

    def remove_files(self) -> list[dict[str, Any]]:
        assignments = self.parse_assignments()
        self.log.info("Removing released assignments:")
        for info in assignments:
            self.log.info(self.format_outbound_assignment(info))
            self.api("DELETE", "courses", info["course_id"], "assignments", info["assignment_id"])
        return assignments

    def format_inbound_assignment(self, info: dict[str, Any]) -> str:
        msg = "{course_id} {student_id} {assignment_id} {timestamp}".format(**info)
        if info["has_local_feedback"] and not info["feedback_updated"]:
            return msg + " (feedback already fetched)"
        if info["has_exchange_feedback"]:
            return msg + " (feedback ready to be fetched)"
        return msg + " (no feedback available)"

    def format_outbound_assignment(self, info: dict[str, Any]) -> str:
        msg = "{course_id} {assignment_id}".format(**info)
        if info["status"] == "fetched":
            msg += " (already downloaded)"
        return msg
