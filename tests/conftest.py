"""Rules for the whole suite: a time limit on every test, by tier, and no
silent skip in CI.

A test that hangs fails on its own limit (pytest-timeout, by SIGALRM in the
main thread) and the run goes on, so a failing run still ends with its
summary inside CI's time. Only the test function is timed: session fixtures
(cluster up, the first deploy, image builds) carry their own subprocess
timeouts.
"""

from __future__ import annotations

import os

import pytest

# seconds per test, by tier: the slowest test of each tier, measured, times
# about three (cluster: a deploy inside a test, 3 to 5 minutes cold)
TIER_LIMITS = {"unit": 120, "integration": 600, "kernel": 600, "cluster": 900}


def tier_of(item: pytest.Item) -> str | None:
    parts = item.path.parts
    for tier in TIER_LIMITS:
        if "tests" in parts and tier in parts:
            return tier
    return None


def pytest_collection_modifyitems(items):
    for item in items:
        tier = tier_of(item)
        if tier and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(TIER_LIMITS[tier], func_only=True))


def skipped_in_ci(reporter) -> list:
    """The skips of a CI run (CI=true), where every test must run."""
    if os.environ.get("CI") != "true" or reporter is None:
        return []
    return reporter.stats.get("skipped", [])


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """In CI every test runs: a skip there hides a missing step (issue 9)."""
    skipped = skipped_in_ci(terminalreporter)
    if skipped:
        terminalreporter.write_line(
            f"CI: {len(skipped)} test(s) skipped (see 'SKIPPED' above), and none may be: "
            "make ./script/test build or install what they need, or fix the tests",
            red=True,
            bold=True,
        )


def pytest_sessionfinish(session, exitstatus):
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if exitstatus == 0 and skipped_in_ci(reporter):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
