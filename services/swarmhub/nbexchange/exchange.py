"""The base of every operation: where the exchange is, how to ask it, where a
course's assignment lives in the person's folder."""

from __future__ import annotations

import os
from typing import Any, NoReturn

from nbgrader.exchange.abc import Exchange as ABCExchange
from traitlets import Bool, Float, Integer

from swarmhub.common.exchange_protocol import check_course, check_item

from . import archive
from .client import Client, ClientError, route


class Exchange(ABCExchange):
    # Same name and meaning as nbgrader's default exchange, so an existing
    # `c.Exchange.path_includes_course` keeps working.
    path_includes_course = Bool(
        False,
        help="Whether fetched and submitted assignments live in ./COURSE/ASSIGNMENT"
        " rather than ./ASSIGNMENT.",
    ).tag(config=True)

    timeout = Float(60.0, help="Seconds to wait for the course exchange's answer.").tag(config=True)

    max_archive_mb = Integer(
        1000, help="The most an archive from the course exchange may unpack to, in MB."
    ).tag(config=True)

    _client: Client | None = None

    def fail(self, msg: str) -> NoReturn:
        super().fail(msg)
        raise AssertionError("unreachable: fail raises")

    @property
    def client(self) -> Client:
        if self._client is None:
            try:
                self._client = Client.from_environment(self.timeout)
            except ClientError as e:
                self.fail(str(e))
        return self._client

    def api(self, method: str, *segments: str, **kwargs: Any) -> bytes:
        """The body of the exchange's answer; ExchangeError with its message otherwise."""
        try:
            return self.client.request(method, route(*segments), **kwargs)
        except ClientError as e:
            self.fail(str(e))

    def api_json(self, method: str, *segments: str, **kwargs: Any) -> Any:
        try:
            return self.client.json(method, route(*segments), **kwargs)
        except ClientError as e:
            self.fail(str(e))

    @property
    def max_archive_bytes(self) -> int:
        return int(self.max_archive_mb) * 1_000_000

    def require_course(self) -> str:
        course: str = self.coursedir.course_id
        if course == "":
            self.fail("No course id specified. Re-run with --course flag.")
        return course

    def local_assignment(self, course: str, assignment: str) -> str:
        """Where a fetched assignment lives (as nbgrader's default exchange)."""
        if self.path_includes_course:
            root = os.path.join(course, assignment)
        else:
            root = assignment
        return os.path.abspath(os.path.join(self.assignment_dir, root))

    def checked(self, name: str, what: str) -> str:
        """A name from the exchange that becomes part of a local path: refused unless
        plain (the exchange checks them too; this side does not rely on it)."""
        try:
            if what == "course":
                return check_course(name)
            if what == "timestamp":
                if not isinstance(name, str) or "/" in name or name.strip(".") == "":
                    raise ValueError(f"{name!r} is not a timestamp")
                return name
            return check_item(name, what)
        except ValueError as e:
            self.fail(f"The course exchange sent an odd {what} name: {e}")

    def courses(self) -> list[str]:
        """The course given, or every course the exchange shows the caller."""
        if self.coursedir.course_id:
            return [self.coursedir.course_id]
        answer = self.api_json("GET", "courses")
        return [self.checked(c["course"], "course") for c in answer["courses"]]

    def pack(self, src: str) -> bytes:
        """src's contents as nbgrader's default do_copy would copy them."""
        size = archive.dir_size(src)
        limit = 1000 * self.coursedir.max_dir_size
        if size > limit:
            # default do_copy's own message (it raises RuntimeError)
            self.fail(f"Directory size is too big. Size is {size}, maximum size is {limit}")
        return archive.pack(
            src,
            exclude=self.coursedir.ignore,
            include=self.coursedir.include,
            max_file_size=self.coursedir.max_file_size,
            log=self.log,
        )

    def unpack_new(self, data: bytes, parent: str, base: str, what: str) -> str:
        try:
            return archive.unpack_new(data, parent, base, self.max_archive_bytes)
        except archive.UnsafeArchive as e:
            self.fail(f"Refused {what} from the course exchange: {e}. Nothing was written.")
