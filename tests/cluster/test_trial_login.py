"""The quick start: ./script/deploy with no inventory prints a login that works.

Runs first in the cluster tier, on the quick start's own deploy from nothing;
the tests after it switch the trial to the Google stand-in."""

from __future__ import annotations

import json
import pathlib
import re
import tarfile

from playwright.sync_api import expect

from tests.cluster import jupyter_ui, trial


def test_trial_deploy_prints_a_login_that_works(quick_start, plain_page):
    result, new_page = quick_start, plain_page
    assert "JupyterHub is up:  https://localhost:8443/" in result.output
    printed = re.search(r"Log in as bob with password:\s+(\S+)", result.output)
    assert printed, "./script/deploy did not print bob's password"

    page = new_page()
    page.goto(f"{trial.PUBLIC_URL}/hub/login")
    page.locator("#username_input").fill("bob")
    page.locator("#password_input").fill(printed.group(1))
    page.locator("#login_submit").click()
    jupyter_ui.wait_for_lab(page, "bob")

    wrong = new_page()
    wrong.goto(f"{trial.PUBLIC_URL}/hub/login")
    wrong.locator("#username_input").fill("bob")
    wrong.locator("#password_input").fill("not-the-password")
    wrong.locator("#login_submit").click()
    refusal = wrong.get_by_text(re.compile("invalid username or password", re.I))
    expect(refusal).to_be_visible(timeout=30_000)
    expect(wrong).to_have_url(re.compile(r"/hub/login"))


def test_the_hubs_images_are_kept_for_a_trial_made_anew(quick_start):
    """script/cluster down keeps the images the hub built, so the next quick
    start loads them instead of building for minutes: one archive per image
    the hub runs, holding that very image (its tag is its sources' hash)."""
    cache = pathlib.Path("/var/cache/swarmhub-trial/images")
    refs = trial.on_host(
        "hub", "docker images --format '{{.Repository}}:{{.Tag}}' | grep /swarmhub/"
    ).split()
    assert {ref.split("/")[-1].split(":")[0] for ref in refs} >= {"jupyterhub", "notebook"}
    for ref in refs:
        archive = cache / (re.sub(r"[/:]", "_", ref) + ".tar")
        assert archive.is_file(), f"{ref} is not in the build cache {cache}"
        with tarfile.open(archive) as tar:
            manifest = json.load(tar.extractfile("manifest.json"))
        assert [ref] == manifest[0]["RepoTags"], f"{archive} holds {manifest[0]['RepoTags']}"
