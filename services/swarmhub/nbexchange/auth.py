"""nbgrader's course access (Authenticator.plugin_class): the courses the
exchange shows the caller, nothing else. Fetch and submit ask it first, and
nbgrader's course_list extension lists the formgraders of these courses."""

from __future__ import annotations

from nbgrader.auth import BaseAuthPlugin
from nbgrader.exchange import ExchangeError
from traitlets import Float

from .client import Client, ClientError


class CourseAuthPlugin(BaseAuthPlugin):
    timeout = Float(60.0, help="Seconds to wait for the course exchange's answer.").tag(config=True)

    def get_student_courses(self, student_id: str) -> list[str]:
        """The caller's courses, whoever student_id names: the exchange answers for
        the token's owner only, and a student has no say over anyone else's."""
        try:
            answer = Client.from_environment(self.timeout).json("GET", "courses")
        except ClientError as e:
            raise ExchangeError(str(e)) from e
        return sorted(c["course"] for c in answer["courses"])

    def add_student_to_course(self, student_id: str, course_id: str) -> None:
        # the hub's course settings say who is in a course, not nbgrader's database
        pass

    def remove_student_from_course(self, student_id: str, course_id: str) -> None:
        pass
