"""Google login through a real JupyterHub 6.1.1 with the product's login settings
(swarmhub.hub.hubconfig: GoogleOAuthenticator, username = the email's local part with
one hosted domain, or given by full email without one; one Google account per name).

Google's endpoints are played by tests/oauth_standin, served on 127.0.0.1.
The hub runs as its own process with configurable-http-proxy (from PATH;
./script/test installs the version the proxy image pins), its own sqlite
database and the simplest built-in spawner; no user server is started.
The login is driven with requests, hop by hop, as a browser would.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests
from werkzeug.serving import BaseWSGIServer, make_server

from tests.hub_process import LOOPBACK, HubProcess
from tests.oauth_standin import create_app

CLIENT_ID = "swarmhub-hub.apps.example.test"
CLIENT_SECRET = "integration-secret-" + secrets.token_hex(8)
HOSTED_DOMAIN = "example.org"
STARTUP_TIMEOUT_SECONDS = 60.0
REQUEST_TIMEOUT_SECONDS = 30.0
HUB_PUBLIC_ENTRY = "/hub/oauth_login"

# The hub's settings. The username mapping (email local part; JupyterHub's
# default normalize_username lowercases it) is what services/swarmhub/hub/hubconfig.py
# is expected to configure too.
HUB_SETTINGS_TEMPLATE = """\
# Login only: the simplest built-in spawner, and no spawn after login.
c.JupyterHub.spawner_class = "simple"
c.JupyterHub.redirect_to_server = False

# The product's own login settings, as the hub container applies them.
import json  # noqa: E402
from swarmhub.hub.hubconfig import configure_authenticator  # noqa: E402

configure_authenticator(c, json.loads({settings!r}))
"""


# Who may log in, as the hub settings allow it: anyone the authenticator admits
# (allowed_users empty), or only the listed users.
# allowed_users in the hub settings: empty admits the whole hosted domain.
ADMISSION_POLICIES = {
    "anyone-in-domain": [],
    "listed-users": ["ann-lee", "unverified", "ada-lovelace"],
}


@dataclass(frozen=True)
class Hub:
    url: str
    log_path: Path
    policy: str

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture(scope="module")
def standin_url() -> Iterator[str]:
    """The Google stand-in, served by a werkzeug thread on loopback."""
    app = create_app(
        accounts={"unverified@example.org": {"verified_email": False, "email_verified": False}},
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
    )
    server: BaseWSGIServer = make_server(LOOPBACK, 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="oauth-standin", daemon=True)
    thread.start()
    try:
        yield f"http://{LOOPBACK}:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def start_hub(
    workdir: Path,
    standin_url: str,
    policy: str,
    allowed_users: list[str],
    hosted_domain: list[str],
    email_map: dict[str, str] | None = None,
) -> Iterator[Hub]:
    hub_process = HubProcess(workdir)
    secret_file = workdir / "oauth_client_secret"
    secret_file.write_text(CLIENT_SECRET)
    secret_file.chmod(0o600)
    # auth_state (encrypted with this key) keeps the Google identity of each name
    crypt_key_file = workdir / "crypt_key"
    crypt_key_file.write_text(secrets.token_hex(32))
    crypt_key_file.chmod(0o600)
    auth = {
        "kind": "google",
        "client_id": CLIENT_ID,
        "client_secret_file": str(secret_file),
        "hosted_domain": hosted_domain,
        "oauth_callback_url": f"{hub_process.url}/hub/oauth_callback",
        "authorize_url": f"{standin_url}/authorize",
        "token_url": f"{standin_url}/token",
        "userdata_url": f"{standin_url}/userinfo",
    }
    if email_map is not None:
        auth["email_map"] = email_map
    settings = HUB_SETTINGS_TEMPLATE.format(
        settings=json.dumps(
            {
                "admin_users": [],
                "allowed_users": allowed_users,
                "crypt_key_file": str(crypt_key_file),
                "auth": auth,
            }
        ),
    )
    hub_process.start(settings, startup_timeout=STARTUP_TIMEOUT_SECONDS)
    try:
        yield Hub(url=hub_process.url, log_path=hub_process.log_path, policy=policy)
    finally:
        hub_process.stop()


@pytest.fixture(scope="module", params=sorted(ADMISSION_POLICIES))
def hub(
    request: pytest.FixtureRequest,
    standin_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Hub]:
    """A real JupyterHub process configured with GoogleOAuthenticator against the stand-in."""
    policy: str = request.param
    workdir = tmp_path_factory.mktemp(f"google-login-hub-{policy}")
    yield from start_hub(workdir, standin_url, policy, ADMISSION_POLICIES[policy], [HOSTED_DOMAIN])


# Without a hosted domain, only Google accounts given by full email, with their names.
EMAIL_MAP = {"grace.hopper@gmail.com": "grace", "Alan.Turing@example.net": "alan"}


@pytest.fixture(scope="module")
def emails_only_hub(standin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    workdir = tmp_path_factory.mktemp("google-login-hub-emails-only")
    yield from start_hub(
        workdir, standin_url, "emails-only", sorted(EMAIL_MAP.values()), [], EMAIL_MAP
    )


class FormReader(HTMLParser):
    """The first form of a page: its action and its hidden inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.hidden: dict[str, str] = {}
        self.input_ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form" and self.action is None:
            self.action = attributes.get("action", "")
        elif tag == "input":
            if attributes.get("id"):
                self.input_ids.add(attributes["id"])
            if attributes.get("type") == "hidden":
                self.hidden[attributes["name"]] = attributes.get("value", "")


def log_in(hub: Hub, email: str) -> tuple[requests.Session, requests.Response]:
    """Walk the OAuth dance as a browser would; return the session and the callback's answer."""
    session = requests.Session()

    login = session.get(
        f"{hub.url}{HUB_PUBLIC_ENTRY}",
        allow_redirects=False,
        timeout=REQUEST_TIMEOUT_SECONDS,
    )
    assert login.status_code == 302, hub.log_tail()
    chooser_url = login.headers["Location"]

    chooser = session.get(chooser_url, timeout=REQUEST_TIMEOUT_SECONDS)
    assert chooser.status_code == 200, chooser.text
    form = FormReader()
    form.feed(chooser.text)
    assert form.action is not None and "email" in form.input_ids, chooser.text

    signed_in = session.post(
        urljoin(chooser_url, form.action),
        data={**form.hidden, "email": email, "action": "allow"},
        allow_redirects=False,
        timeout=REQUEST_TIMEOUT_SECONDS,
    )
    assert signed_in.status_code == 302, signed_in.text
    callback_url = signed_in.headers["Location"]
    assert callback_url.startswith(f"{hub.url}/hub/oauth_callback?")

    callback = session.get(callback_url, allow_redirects=False, timeout=REQUEST_TIMEOUT_SECONDS)
    return session, callback


def current_user(hub: Hub, session: requests.Session) -> requests.Response:
    """GET /hub/api/user with the session cookie (JupyterHub checks XSRF on cookie GETs)."""
    home = session.get(f"{hub.url}/hub/home", timeout=REQUEST_TIMEOUT_SECONDS)
    assert home.status_code == 200, hub.log_tail()
    xsrf = session.cookies.get("_xsrf", default="")
    return session.get(
        f"{hub.url}/hub/api/user",
        headers={"X-XSRFToken": xsrf},
        timeout=REQUEST_TIMEOUT_SECONDS,
    )


def test_member_of_the_hosted_domain_logs_in_as_local_part_made_a_system_name(hub: Hub) -> None:
    session, callback = log_in(hub, "Ann.Lee@example.org")
    assert callback.status_code == 302, hub.log_tail()
    assert callback.headers["Location"].endswith("/hub/home")

    user = current_user(hub, session)
    assert user.status_code == 200, hub.log_tail()
    # lower case, "." (not valid in a system username) made "-"
    assert user.json()["name"] == "ann-lee"

    home = session.get(f"{hub.url}/hub/home", timeout=REQUEST_TIMEOUT_SECONDS)
    assert "ann-lee" in home.text


def test_email_from_another_domain_is_refused(hub: Hub) -> None:
    session, callback = log_in(hub, "eve@evil.test")
    assert callback.status_code == 403, hub.log_tail()
    assert "not currently authorized" in callback.text

    # No session came of it: the hub sends the visitor back to log in.
    home = session.get(
        f"{hub.url}/hub/home", allow_redirects=False, timeout=REQUEST_TIMEOUT_SECONDS
    )
    assert home.status_code == 302
    assert "/hub/login" in home.headers["Location"]


def test_unverified_email_is_refused(hub: Hub) -> None:
    # With the whole domain admitted (allow_all), stock GoogleOAuthenticator
    # would let this one in; the product's authenticator refuses it.
    _session, callback = log_in(hub, "unverified@example.org")
    assert callback.status_code == 403, hub.log_tail()
    assert "unverified email" in callback.text


def test_unlisted_member_of_the_domain_is_admitted_only_without_a_list(
    hub: Hub,
) -> None:
    session, callback = log_in(hub, "bob@example.org")
    if hub.policy == "anyone-in-domain":
        assert callback.status_code == 302, hub.log_tail()
        assert current_user(hub, session).json()["name"] == "bob"
    else:
        assert callback.status_code == 403, hub.log_tail()
        assert "not currently authorized" in callback.text


def test_two_google_accounts_never_share_a_name(hub: Hub) -> None:
    """ada.lovelace@ and ada-lovelace@ both make the name ada-lovelace: the first to
    log in has it, the second is refused with a page that says why, and the first
    keeps the account."""
    first, callback = log_in(hub, "ada.lovelace@example.org")
    assert callback.status_code == 302, hub.log_tail()
    assert current_user(hub, first).json()["name"] == "ada-lovelace"

    second, callback = log_in(hub, "ada-lovelace@example.org")
    assert callback.status_code == 403, hub.log_tail()
    assert (
        "The name ada-lovelace is already used by another Google account; ask the "
        "administrators for a username map entry."
    ) in callback.text
    # no session came of it
    home = second.get(f"{hub.url}/hub/home", allow_redirects=False, timeout=REQUEST_TIMEOUT_SECONDS)
    assert home.status_code == 302 and "/hub/login" in home.headers["Location"]
    assert "Refused login of ada-lovelace@example.org (sub " in hub.log_path.read_text(
        errors="replace"
    )

    # the first, in a new browser, still logs in to the same account
    again, callback = log_in(hub, "Ada.Lovelace@example.org")
    assert callback.status_code == 302, hub.log_tail()
    assert current_user(hub, again).json()["name"] == "ada-lovelace"
    # and its open session still works
    assert current_user(hub, first).json()["name"] == "ada-lovelace"


def test_without_a_hosted_domain_only_emails_given_in_full_log_in(emails_only_hub: Hub) -> None:
    hub = emails_only_hub
    session, callback = log_in(hub, "grace.hopper@gmail.com")
    assert callback.status_code == 302, hub.log_tail()
    assert current_user(hub, session).json()["name"] == "grace"
    session, callback = log_in(hub, "alan.turing@example.net")
    assert callback.status_code == 302, hub.log_tail()
    assert current_user(hub, session).json()["name"] == "alan"

    # the same local part elsewhere, or another gmail account: no name on this hub
    for stranger in ("grace.hopper@example.org", "grace@gmail.com", "alan@gmail.com"):
        _session, callback = log_in(hub, stranger)
        assert callback.status_code == 403, hub.log_tail()
        assert f"The Google account {stranger} has no user name on this hub" in callback.text


def test_standin_runs_as_a_command_bound_to_the_given_address() -> None:
    """`python -m tests.oauth_standin` announces its URL and serves the flow there."""
    repo_root = Path(__file__).resolve().parents[2]
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.oauth_standin", "--host", LOOPBACK, "--port", "0"]
        + ["--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET],
        cwd=repo_root,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # blocks until listening, or EOF if it died
        prefix = f"oauth stand-in listening on http://{LOOPBACK}:"
        assert line.startswith(prefix), line
        base_url = line.strip().removeprefix("oauth stand-in listening on ")
        port = int(line.strip().removeprefix(prefix))

        listening = subprocess.run(
            ["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True, check=True
        ).stdout.split()
        assert f"{LOOPBACK}:{port}" in listening, listening  # not 0.0.0.0 or [::]

        assert requests.get(f"{base_url}/healthz", timeout=REQUEST_TIMEOUT_SECONDS).text == "ok"
        refused = requests.get(
            f"{base_url}/authorize",
            params={"client_id": "stranger", "response_type": "code"},
            timeout=REQUEST_TIMEOUT_SECONDS,
        )
        assert refused.status_code == 400
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
    assert process.returncode == 0  # SIGTERM is a clean stop
