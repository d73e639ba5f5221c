"""What a person does in the browser: log in with Google (the stand-in's
account chooser), wait for JupyterLab, run a notebook cell; and the hub API
calls a person's browser session may make."""

from __future__ import annotations

import json
import re
import time

from playwright.sync_api import Page, expect

from tests.cluster.trial import PUBLIC_URL

SPAWN_TIMEOUT_MS = 240_000
# The trial serves each user's servers and each service from a host of its own
# (swarmhub_user_subdomains): Chromium resolves every *.localhost to loopback.
TRIAL_PORT = 8443


def user_url(username: str, path: str = "") -> str:
    return f"https://{username}.localhost:{TRIAL_PORT}/user/{username}/{path}"


def service_url(name: str, path: str = "") -> str:
    return f"https://{name}--service.localhost:{TRIAL_PORT}/services/{name}/{path}"


def fetch_in_page(page: Page, path: str) -> dict:
    """GET `path` from the page's own origin, as JupyterLab's scripts do (its
    cookies, and the _xsrf cookie's value in X-XSRFToken): {"status", "body"}.
    Runs in Chromium, which resolves the trial's *.localhost hosts (the test
    process does not)."""
    return page.evaluate(
        """async path => {
            const xsrf = document.cookie.split("; ").find(c => c.startsWith("_xsrf="));
            const headers = xsrf ? {"X-XSRFToken": decodeURIComponent(xsrf.slice(6))} : {};
            const reply = await fetch(path, {credentials: "same-origin", headers});
            return {status: reply.status, body: await reply.text()};
        }""",
        path,
    )


def log_in(page: Page, email: str) -> None:
    page.goto(f"{PUBLIC_URL}/hub/login")
    page.get_by_text(re.compile("Sign in with Google", re.I)).click()
    page.locator("#email").fill(email)
    page.get_by_role("button", name="Sign in").click()


def log_in_to_hub(page: Page, email: str) -> None:
    """Log in and wait until the hub has answered (its spawn or home page, or
    the user's running server)."""
    log_in(page, email)
    page.wait_for_url(re.compile(r"localhost:8443/(hub|user)/"), timeout=60_000)


def wait_for_lab(page: Page, username: str, environment: str | None = None) -> None:
    """Wait for JupyterLab; on the way, answer the spawn form (the default
    environment unless one is named) if the hub shows it."""
    lab = re.compile(rf"/user/{re.escape(username)}/lab")
    page.wait_for_url(re.compile(rf"{lab.pattern}|/hub/spawn"), timeout=SPAWN_TIMEOUT_MS)
    if "/hub/spawn" in page.url and page.locator("#swarmhub-environment").count():
        if environment:
            page.locator("#swarmhub-environment").select_option(environment)
        page.locator("#spawn_form [type=submit]").click()
    page.wait_for_url(lab, timeout=SPAWN_TIMEOUT_MS)
    expect(page.locator("#jp-main-dock-panel")).to_be_visible(timeout=120_000)


def run_in_new_notebook(page: Page, username: str, code: str, expected_output: str) -> None:
    # a fresh layout: JupyterLab would reopen (and ask kernels for) earlier notebooks
    page.goto(user_url(username, "lab?reset"))
    page.locator('.jp-LauncherCard[data-category="Notebook"]').first.click()
    # the kernel is up once the status bar says so; typing earlier can be lost
    expect(page.get_by_text(re.compile(r"\| Idle"))).to_be_visible(timeout=120_000)
    notebook = page.locator(".jp-NotebookPanel:visible")  # the new one, in front
    editor = notebook.locator(".jp-Cell").first.locator(".cm-content")
    editor.click()
    page.keyboard.type(code)
    expect(editor).to_contain_text(code[:20])
    page.keyboard.press("Shift+Enter")
    output = notebook.locator(".jp-OutputArea-output").filter(has_text=expected_output)
    expect(output.first).to_be_visible(timeout=120_000)


def hub_api(page: Page, method: str, path: str):
    """Call the hub's REST API with the browser's session, as the hub's own
    pages do (cookie plus the _xsrf token)."""
    cookies = page.context.cookies(f"{PUBLIC_URL}/hub/")
    # the hub's own _xsrf cookie (path /hub/), not a user server's
    xsrf = next((c["value"] for c in cookies if c["name"] == "_xsrf" and c["path"] == "/hub/"), "")
    return page.request.fetch(
        f"{PUBLIC_URL}/hub/api{path}", method=method, headers={"X-XSRFToken": xsrf}
    )


def server_state(page: Page, username: str, server: str = "") -> dict:
    reply = hub_api(page, "GET", f"/users/{username}")
    assert reply.ok, f"GET /users/{username}: {reply.status} {reply.text()}"
    return reply.json()["servers"].get(server, {})


def _server_path(username: str, server: str) -> str:
    return f"/users/{username}/servers/{server}" if server else f"/users/{username}/server"


def stop_server(page: Page, username: str, timeout: float = 120, server: str = "") -> None:
    reply = hub_api(page, "DELETE", _server_path(username, server))
    assert reply.status in (202, 204), f"stop: {reply.status} {reply.text()}"
    deadline = time.monotonic() + timeout
    while server_state(page, username, server):
        assert time.monotonic() < deadline, f"{username}'s server did not stop in {timeout}s"
        time.sleep(0.25)


def request_server(page: Page, username: str, server: str = "", **options: str):
    """Ask the hub to start a server with user_options; the hub's reply."""
    path = _server_path(username, server)
    cookies = page.context.cookies(f"{PUBLIC_URL}/hub/")
    xsrf = next((c["value"] for c in cookies if c["name"] == "_xsrf" and c["path"] == "/hub/"), "")
    return page.request.fetch(
        f"{PUBLIC_URL}/hub/api{path}",
        method="POST",
        headers={"X-XSRFToken": xsrf, "Content-Type": "application/json"},
        data=json.dumps(options),
    )


def start_server(
    page: Page, username: str, timeout: float = 240, server: str = "", **options: str
) -> float:
    """Start a server; return seconds until the hub says it is ready."""
    start = time.monotonic()
    reply = request_server(page, username, server, **options)
    assert reply.status in (201, 202), f"start: {reply.status} {reply.text()}"
    while not (state := server_state(page, username, server)).get("ready"):
        # a failed spawn leaves no server behind (the hub's log says why)
        assert state, f"{username}'s server {server!r} failed to start"
        assert time.monotonic() - start < timeout, f"{username}'s server not ready in {timeout}s"
        time.sleep(0.1)
    return time.monotonic() - start


def log_in_with_a_server(page: Page, username: str, **options: str) -> None:
    """Log in as USERNAME@example.org and make sure her default server is ready
    (started with `options`, e.g. environment="python", when it is not)."""
    log_in_to_hub(page, f"{username}@example.org")
    if not server_state(page, username).get("ready"):
        start_server(page, username, **options)
