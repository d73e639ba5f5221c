"""Orphaned servers: which swarm services the watch removes, and when."""

from __future__ import annotations

import logging
from types import SimpleNamespace

from swarmhub.hub.orphans import known_servers, look, sort_out
from swarmhub.hub.service_spec import SERVER_LABEL

USERS = [
    {"name": "ann", "servers": {"": {"ready": True}}},
    {"name": "bob", "servers": {"thesis": {"pending": "spawn"}}},
    {"name": "cara", "servers": {}},
]


def test_the_hub_knows_running_and_pending_servers():
    assert known_servers(USERS) == {"ann/", "bob/thesis"}


def test_an_unknown_service_is_removed_only_at_its_second_look():
    services = {"jupyter-ann": "ann/", "jupyter-ghost": "ghost/"}
    remove, suspects = sort_out(services, {"ann/"}, set())
    assert (remove, suspects) == ([], {"jupyter-ghost"})
    remove, suspects = sort_out(services, {"ann/"}, suspects)
    assert (remove, suspects) == (["jupyter-ghost"], set())


def test_a_server_the_hub_learned_of_in_between_is_kept():
    _, suspects = sort_out({"jupyter-new": "new/"}, set(), set())
    assert sort_out({"jupyter-new": "new/"}, {"new/"}, suspects) == ([], set())


class FakeService:
    def __init__(self, name, label):
        self.name, self.removed = name, False
        self.attrs = {"Spec": {"Labels": {SERVER_LABEL: label}}}

    def remove(self):
        self.removed = True


def test_a_look_removes_what_the_hub_lost_and_logs_it(monkeypatch, caplog):
    services = [FakeService("jupyter-ann", "ann/"), FakeService("jupyter-old", "old/")]
    asked = []

    def list_services(filters):
        asked.append(filters)
        return services

    client = SimpleNamespace(services=SimpleNamespace(list=list_services))
    monkeypatch.setattr("swarmhub.hub.orphans.hub_users", lambda url, token: USERS)
    suspects = look(client, "http://hub/api", "token", set())
    assert not any(s.removed for s in services)
    with caplog.at_level(logging.WARNING):
        look(client, "http://hub/api", "token", suspects)
    assert [s.removed for s in services] == [False, True]
    assert "Removing jupyter-old" in caplog.text and "files are kept" in caplog.text
    assert asked == [{"label": SERVER_LABEL}] * 2
