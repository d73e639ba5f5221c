"""swarmhub.stats: activity statistics of the hub for instructors.

A poller reads the hub's users every few minutes and appends one sample per server
(time, user, server, last activity, active, node) to SQLite; `report` answers
instructors' questions from the samples; `web` serves charts inside the hub (a hub
service behind its login, for admins and the instructors).
"""

from .access import may_view
from .models import Base, HubUser, Poll, Sample, open_db
from .poller import PollSettings, poll_once, record_poll, run_poller
from .sampling import is_active, samples_from_users

__all__ = [
    "Base",
    "HubUser",
    "Poll",
    "PollSettings",
    "Sample",
    "is_active",
    "may_view",
    "open_db",
    "poll_once",
    "record_poll",
    "run_poller",
    "samples_from_users",
]
