"""An admin's request for an environment built from git: refused, field by field,
before anything is built (issue 15, Must 5)."""

from __future__ import annotations

import pytest

from swarmhub.common.environment_requests import (
    Limits,
    RequestError,
    parse_mem,
    parse_request,
)

GOOD = {
    "name": "pandas",
    "repo_url": "https://git.example.org/course/pandas-env.git",
    "ref": "v1.2",
    "display_name": "Python with pandas",
    "description": "pandas 2 and matplotlib",
    "mem_limit": "2G",
    "cpu_limit": "1.5",
}
LIMITS = Limits(max_mem=4 << 30, max_cpu=2)


def refused(field: str, **changes) -> str:
    with pytest.raises(RequestError) as caught:
        parse_request({**GOOD, **changes}, LIMITS, taken=("python",))
    assert caught.value.field == field, caught.value.message
    return caught.value.message


def test_a_good_request_is_read_with_its_limits_in_bytes_and_cpus():
    request = parse_request(GOOD, LIMITS, taken=("python",))
    assert request.as_dict() == {
        "name": "pandas",
        "repo_url": "https://git.example.org/course/pandas-env.git",
        "ref": "v1.2",
        "display_name": "Python with pandas",
        "description": "pandas 2 and matplotlib",
        "mem_limit": 2 << 30,
        "cpu_limit": 1.5,
    }


def test_defaults_the_latest_commit_the_name_shown_and_modest_limits():
    request = parse_request({"name": "stats", "repo_url": "https://git.example.org/stats"}, LIMITS)
    assert (request.ref, request.display_name) == ("HEAD", "stats")
    assert (request.mem_limit, request.cpu_limit) == (2 << 30, 1.0)


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("Pandas", "not an environment name"),
        ("../x", "not an environment name"),
        ("a" * 33, "not an environment name"),
        ("python", "There is an environment called 'python' already"),
        ("projects", "already"),
    ],
)
def test_names_that_are_not_folder_names_or_are_taken_are_refused(name, why):
    assert why in refused("name", name=name)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("", "Give the git repository's URL"),
        ("git.example.org/x.git", "is not a URL"),
        ("git@git.example.org:course/x.git", "is not a URL"),
        ("http://git.example.org/x.git", "http:// URLs are not allowed here"),
        ("file:///srv/repos/x.git", "file:// URLs are not allowed here (not a git URL)"),
        ("ssh://git@git.example.org/x.git", "ssh:// URLs are not allowed here"),
        ("git://git.example.org/x.git", "git:// URLs are not allowed here"),
        ("https://user:token@git.example.org/x.git", "user name or password"),
        ("https://token@git.example.org/x.git", "user name or password"),
        ("https:///x.git", "names no host"),
        ("https://git.example.org", "names no repository"),
        ("https://git.example.org/x.git?ref=1", "?query"),
        ("https://git.example.org:99999/x.git", "its port"),
        ("https://git.example.org/x .git", "holds spaces"),
        ("https://git.example.org/x\n.git", "holds spaces"),
    ],
)
def test_urls_that_are_not_https_git_repositories_are_refused(url, why):
    assert why in refused("repo_url", repo_url=url)


def test_git_and_ssh_urls_only_where_the_operator_allows_them():
    limits = Limits(schemes=("https", "ssh", "git"))
    for url in ("ssh://git@git.example.org/course/x.git", "git://git.example.org/x.git"):
        assert parse_request({**GOOD, "repo_url": url}, limits).repo_url == url
    with pytest.raises(RequestError, match="user name or password"):
        parse_request({**GOOD, "repo_url": "ssh://git:pw@git.example.org/x"}, limits)


@pytest.mark.parametrize("ref", ["-x", "a..b", "refs//x", "x.lock", "a b", "a@{1}", "é", "/x"])
def test_refs_git_would_not_take_are_refused(ref):
    assert "not a branch, tag or commit" in refused("ref", ref=ref)


@pytest.mark.parametrize(
    ("mem", "cpu", "field", "why"),
    [
        ("lots", "1", "mem_limit", "not an amount of memory"),
        ("100M", "1", "mem_limit", "from 256M to 4G, not 100M"),
        ("5G", "1", "mem_limit", "from 256M to 4G, not 5G"),
        ("2G", "many", "cpu_limit", "not a number of CPUs"),
        ("2G", "3", "cpu_limit", "0.1 to 2, not 3"),
        ("2G", "0.05", "cpu_limit", "0.1 to 2"),
    ],
)
def test_limits_out_of_range_are_refused(mem, cpu, field, why):
    assert why in refused(field, mem_limit=mem, cpu_limit=cpu)


def test_memory_is_read_as_people_write_it():
    assert parse_mem("512M") == parse_mem("512MiB") == parse_mem("512 mb") == 512 << 20
    assert parse_mem("1.5G") == 3 << 29
    assert parse_mem(1 << 30) == 1 << 30


def test_names_shown_stay_short_and_on_one_line():
    assert "At most 60 characters" in refused("display_name", display_name="x" * 61)
    assert "without control characters" in refused("description", description="a\nb")
