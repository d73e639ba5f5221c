"""The environment builder's look-up of a reference, against real git over https
(tests/gitserver.py, on loopback): a ref that does not exist, or a server whose
certificate is not trusted, is refused before anything is built (issue 15, Must 5)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from swarmhub.envbuild.builder import BuilderSettings, BuildFailed, resolve_ref
from tests.gitserver import GitServer

SETTINGS = BuilderSettings(registry="r:5000", notebook_image="r:5000/nb@sha256:" + "a" * 64)


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[GitServer]:
    s = GitServer(tmp_path_factory.mktemp("git"))
    yield s
    s.stop()


@pytest.fixture
def trusting(server, monkeypatch):
    """The builder trusts the test CA, as the role makes it trust the cluster's."""
    monkeypatch.setenv("GIT_SSL_CAINFO", str(server.ca))


def test_branches_tags_and_head_resolve_to_their_commits(server, trusting):
    first = server.add_repo("pandas", {"requirements.txt": "six==1.16.0\n"}, tag="v1")
    second = server.add_repo("pandas", {"README.md": "more\n"})
    url = server.url("pandas")
    assert resolve_ref(url, "main", SETTINGS) == second
    assert resolve_ref(url, "HEAD", SETTINGS) == second
    assert resolve_ref(url, "v1", SETTINGS) == first  # the annotated tag's commit


def test_a_ref_that_does_not_exist_is_refused(server, trusting):
    server.add_repo("stats", {"requirements.txt": "six\n"})
    with pytest.raises(BuildFailed, match="There is no branch or tag 'v9' in https://127.0.0.1"):
        resolve_ref(server.url("stats"), "v9", SETTINGS)
    with pytest.raises(BuildFailed, match="not a git repository the builder can read"):
        resolve_ref(server.url("nothing-here"), "main", SETTINGS)


def test_a_server_whose_certificate_is_not_trusted_is_refused(server, monkeypatch):
    server.add_repo("untrusted", {"a.txt": "a\n"})
    monkeypatch.delenv("GIT_SSL_CAINFO", raising=False)
    monkeypatch.setenv("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt")
    with pytest.raises(BuildFailed) as refused:
        resolve_ref(server.url("untrusted"), "main", SETTINGS)
    assert "certificate" in str(refused.value).lower() or "SSL" in str(refused.value)
