"""Issue 8 item 5: each user's servers run in an origin of their own
(ann.localhost:8443 on the trial), so a script one server serves, a notebook's
HTML output say, cannot read the hub's pages or another user's server as
whoever is looking at it; and the stats page keeps working on its own host."""

from __future__ import annotations

from tests.cluster import jupyter_ui
from tests.cluster.trial import PUBLIC_URL

READ_CROSS_ORIGIN = """async url => {
    try {
        const reply = await fetch(url, {credentials: "include"});
        return "read " + reply.status + " " + (await reply.text()).slice(0, 80);
    } catch (error) {
        return "blocked: " + error.name;
    }
}"""


def test_a_users_server_has_an_origin_of_its_own(first_deploy, new_page):
    page = new_page()
    jupyter_ui.log_in(page, "ann@example.org")
    jupyter_ui.wait_for_lab(page, "ann")
    assert page.url.startswith(jupyter_ui.user_url("ann")), page.url

    # the hub's login cookies never go to ann's server's host, nor hers to another
    hub_cookies = {c["name"] for c in page.context.cookies(f"{PUBLIC_URL}/hub/")}
    at_ann = {c["name"] for c in page.context.cookies(jupyter_ui.user_url("ann"))}
    at_bob = {c["name"] for c in page.context.cookies(jupyter_ui.user_url("bob"))}
    assert "jupyterhub-hub-login" in hub_cookies
    assert "jupyterhub-hub-login" not in at_ann, at_ann
    assert any("jupyterhub-user-ann" in name for name in at_ann), at_ann
    assert not any("jupyterhub-user-ann" in name for name in at_bob), at_bob

    # a script on ann's server's pages reads her server, and nothing of the hub's
    # or of another user's server (the browser's same-origin rule)
    assert jupyter_ui.fetch_in_page(page, "/user/ann/api/contents")["status"] == 200
    for url in (f"{PUBLIC_URL}/hub/home", jupyter_ui.user_url("bob", "api/contents")):
        seen = page.evaluate(READ_CROSS_ORIGIN, url)
        assert seen.startswith("blocked"), f"a script on ann's server read {url}: {seen}"
