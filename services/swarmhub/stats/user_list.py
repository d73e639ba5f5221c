"""Which users the page's table shows: searched, sorted and paged from the query string.

The page works without a script, so its state lives in the URL
(`?days=7&q=ann&sort=active&order=desc&page=2`); every link of the page is this query
with one thing changed. Filtering, sorting and paging run in Python over the report's
summary rows: 10,000 users take milliseconds, and the numbers stay those of
`report users`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal, cast
from urllib.parse import urlencode

from .report import UserRow

SortKey = Literal["name", "active", "last_seen"]
Order = Literal["asc", "desc"]
# the order a column gets when first clicked: names A to Z, the busiest and latest first
FIRST_ORDER: dict[str, Order] = {"name": "asc", "active": "desc", "last_seen": "desc"}
PAGE_SIZE = 50
MAX_DAYS = 366
MAX_SEARCH = 100  # longer than any hub user name
NEVER = datetime.min.replace(tzinfo=UTC)  # "never seen" sorts as the oldest


class BadQuery(ValueError):
    """A query parameter the page cannot use; its text is shown to the visitor."""


@dataclass(frozen=True)
class ListQuery:
    days: int
    search: str = ""
    sort: SortKey = "name"
    order: Order = "asc"
    page: int = 1

    @classmethod
    def from_args(cls, args: Mapping[str, str], default_days: int) -> ListQuery:
        sort = args.get("sort") or "name"
        if sort not in FIRST_ORDER:
            raise BadQuery(f"sort must be one of {', '.join(FIRST_ORDER)}, not {sort!r}")
        order = args.get("order") or FIRST_ORDER[sort]
        if order not in ("asc", "desc"):
            raise BadQuery(f"order must be asc or desc, not {order!r}")
        search = (args.get("q") or "").strip()
        if len(search) > MAX_SEARCH:
            raise BadQuery(f"the search may be at most {MAX_SEARCH} characters long")
        return cls(
            days=_days(args.get("days"), default_days),
            search=search,
            sort=cast(SortKey, sort),
            order=cast(Order, order),
            page=_page(args.get("page")),
        )

    def params(self, **changes: Any) -> dict[str, str]:
        """The query string's parameters with `changes`, leaving out the defaults."""
        query = replace(self, **changes)
        params = {"days": str(query.days)}
        if query.search:
            params["q"] = query.search
        if (query.sort, query.order) != ("name", "asc"):
            params.update(sort=query.sort, order=query.order)
        if query.page != 1:
            params["page"] = str(query.page)
        return params

    def link(self, **changes: Any) -> str:
        return "?" + urlencode(self.params(**changes))

    def sort_link(self, key: SortKey) -> str:
        """A column header's link: sort by it, flipping the order if it sorts already."""
        if key == self.sort:
            order: Order = "desc" if self.order == "asc" else "asc"
        else:
            order = FIRST_ORDER[key]
        return self.link(sort=key, order=order, page=1)


@dataclass(frozen=True)
class ListPage:
    rows: list[UserRow]  # this page's users, in the table's order
    matching: int  # users that match the search
    total: int  # users in the range
    first: int  # the position of rows[0] among the matching users, from 1
    pages: int  # number of pages of the matching users (at least 1)
    past_end: bool  # the query asked for a page after the last

    @property
    def last(self) -> int:
        return self.first + len(self.rows) - 1


def select_page(rows: Sequence[UserRow], query: ListQuery, size: int = PAGE_SIZE) -> ListPage:
    needle = query.search.casefold()
    matching = [r for r in rows if needle in r.name.casefold()]
    descending = query.order == "desc"
    # by name first: the sorts are stable (reversed ones too), so equal values stay A to Z
    matching.sort(
        key=lambda r: (r.name.casefold(), r.name), reverse=descending and query.sort == "name"
    )
    if query.sort == "active":
        matching.sort(key=lambda r: r.active_seconds, reverse=descending)
    elif query.sort == "last_seen":
        matching.sort(key=lambda r: r.last_seen or NEVER, reverse=descending)
    pages = max((len(matching) + size - 1) // size, 1)
    start = (query.page - 1) * size
    return ListPage(
        rows=matching[start : start + size],
        matching=len(matching),
        total=len(rows),
        first=start + 1,
        pages=pages,
        past_end=query.page > pages,
    )


def _days(text: str | None, default: int) -> int:
    if text is None or text == "":
        return default
    try:
        days = int(text)
    except ValueError:
        raise BadQuery(
            f"days must be a whole number of days (1 to {MAX_DAYS}), not {text!r}"
        ) from None
    if not 1 <= days <= MAX_DAYS:
        raise BadQuery(f"days must be between 1 and {MAX_DAYS}, not {days}")
    return days


def _page(text: str | None) -> int:
    if text is None or text == "":
        return 1
    try:
        page = int(text)
    except ValueError:
        raise BadQuery(f"page must be a whole number from 1, not {text!r}") from None
    if page < 1:
        raise BadQuery(f"page must be 1 or more, not {page}")
    return page
