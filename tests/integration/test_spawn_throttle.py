"""A start the hub turns away asks again by itself (issue 12, a class logging in at once).

A real JupyterHub 6.1.1 with swarmhub's busy-hub settings (hubconfig.configure_busy_hub)
at a limit of one server starting at a time, and swarmhub's environments form (with
its script, templates/spawn_retry.js) as its spawn form. ann's server takes a while
to start; meanwhile, in headless Chromium, bob chooses the second environment in the
form and carl follows a link that names it: each is turned away with the hub's "Try
again" and a countdown, and with nobody touching anything, each page asks again
until ann's start is done, and each server runs with the environment chosen.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests

from tests.hub_process import VENV_BIN, HubProcess

STARTUP_TIMEOUT_SECONDS = 60.0
PASSWORD = "throttle-" + secrets.token_hex(6)
OPS_TOKEN = "throttle-ops-" + secrets.token_hex(16)
ANN_START_SECONDS = 12
USERS = ("ann", "bob", "carl")
BUSY = {"concurrent_spawn_limit": 1, "spawn_retry_seconds": [2, 3]}
ENVIRONMENTS = [
    {"name": "python", "image": "unused/python"},
    {"name": "r-stats", "image": "unused/r", "description": "R and its statistics"},
]

HUB_SETTINGS = """\
import asyncio
import json

from jupyterhub.spawner import SimpleLocalProcessSpawner

from swarmhub.hub.environments import environments_form, options_from_form, parse_environments
from swarmhub.hub.hubconfig import configure_busy_hub


class SlowForAnn(SimpleLocalProcessSpawner):
    # ann's start takes a while: the one start the limit allows, while bob asks
    async def start(self):
        if self.user.name == "ann":
            await asyncio.sleep({ann_seconds})
        return await super().start()


configure_busy_hub(c, json.loads({busy!r}))
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = "{password}"
c.Authenticator.allowed_users = {{"ann", "bob", "carl"}}
c.JupyterHub.spawner_class = SlowForAnn
c.Spawner.options_form = environments_form(parse_environments(json.loads({envs!r})), [])
c.Spawner.options_from_form = options_from_form
c.Spawner.cmd = ["{venv_bin}/jupyterhub-singleuser"]
c.Spawner.args = ["--allow-root"]
c.SlowForAnn.home_dir_template = "{workdir}/homes/{{username}}"
c.JupyterHub.services = [{{"name": "ops", "api_token": "{ops_token}"}}]
c.JupyterHub.load_roles = [
    {{"name": "ops", "scopes": ["admin:servers", "read:users"], "services": ["ops"]}}
]
"""


@pytest.fixture(scope="module")
def hub(tmp_path_factory) -> Iterator[HubProcess]:
    work = tmp_path_factory.mktemp("throttle-hub")
    for user in USERS:
        (work / "homes" / user).mkdir(parents=True)
    hub = HubProcess(work)
    hub.start(
        HUB_SETTINGS.format(
            ann_seconds=ANN_START_SECONDS,
            busy=json.dumps(BUSY),
            envs=json.dumps(ENVIRONMENTS),
            password=PASSWORD,
            venv_bin=VENV_BIN,
            workdir=work,
            ops_token=OPS_TOKEN,
        ),
        STARTUP_TIMEOUT_SECONDS,
    )
    yield hub
    hub.stop()


def log_in(browser: Any, hub: HubProcess, user: str, next_url: str) -> tuple[Any, Any]:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{hub.url}/hub/login?next={quote(next_url)}")
    page.fill("input#username_input", user)
    page.fill("input#password_input", PASSWORD)
    with page.expect_navigation(url=f"**{next_url}**"):
        page.click("#login_submit")
    return context, page


@pytest.fixture
def ops(hub: HubProcess) -> Iterator[requests.Session]:
    session = requests.Session()
    session.headers["Authorization"] = f"token {OPS_TOKEN}"
    yield session
    for user in USERS:
        session.delete(f"{hub.api_url}/users/{user}/server", timeout=60)


def start_ann_slowly(hub: HubProcess, ops: requests.Session) -> None:
    """ann's start holds the one place for a while."""
    started = ops.post(f"{hub.api_url}/users/ann/server", timeout=30)
    assert started.status_code == 202, started.text


def server_of(hub: HubProcess, ops: requests.Session, user: str) -> dict:
    return ops.get(f"{hub.api_url}/users/{user}", timeout=30).json()["servers"].get("", {})


def test_a_start_from_the_form_turned_away_asks_again_by_itself_with_the_same_choice(
    hub: HubProcess, browser: Any, ops: requests.Session
) -> None:
    context, page = log_in(browser, hub, "bob", "/hub/spawn")
    try:
        page.select_option("#swarmhub-environment", "r-stats")
        start_ann_slowly(hub, ops)
        with page.expect_navigation():
            page.click("#spawn_form button[type=submit]")

        error = page.inner_text(".spawn-error-msg")
        assert re.search(r"Too many users trying to log in right now\. Try again in \d+", error)
        retry = page.locator("#spawn-retry")
        assert "asks again by itself" in retry.inner_text()
        assert retry.get_attribute("data-seconds") == "10"  # the message's rounded wait
        # the choice is back in the form it will send again
        assert page.input_value("#swarmhub-environment") == "r-stats"
        assert server_of(hub, ops, "bob") == {}

        # nobody touches the page: it asks again until ann's start is done
        page.wait_for_url("**/user/bob/**", timeout=(ANN_START_SECONDS + 90) * 1000)
        bob = server_of(hub, ops, "bob")
        assert bob["ready"] is True
        assert bob["user_options"]["environment"] == "r-stats"
        assert server_of(hub, ops, "ann")["ready"] is True
    finally:
        context.close()
    assert "pending spawns, throttling" in Path(hub.log_path).read_text(errors="replace")


def test_a_start_from_a_link_turned_away_asks_again_by_itself(
    hub: HubProcess, browser: Any, ops: requests.Session
) -> None:
    context, page = log_in(browser, hub, "carl", "/hub/home")
    try:
        start_ann_slowly(hub, ops)
        page.goto(f"{hub.url}/hub/spawn?opt-environment=r-stats")
        error = page.inner_text(".spawn-error-msg")
        assert "Too many users trying to log in right now. Try again in 10 seconds" in error
        assert page.get_attribute("#spawn-retry", "data-seconds") == "10"
        assert page.input_value("#swarmhub-environment") == "r-stats"
        assert server_of(hub, ops, "carl") == {}

        page.wait_for_url("**/user/carl/**", timeout=(ANN_START_SECONDS + 90) * 1000)
        carl = server_of(hub, ops, "carl")
        assert carl["ready"] is True
        assert carl["user_options"]["environment"] == "r-stats"
    finally:
        context.close()
