"""One build of an environment (issue 15): the reference looked up first, repo2docker's
log read into the phases a person watches, a refusal or an error told in words, a
build past its time limit stopped, and a built image checked before it is pushed.
repo2docker itself is a stand-in script here; the real builds with podman are in
the integration tier."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
from traitlets.config import Config

from swarmhub.common.environment_requests import EnvironmentRequest
from swarmhub.envbuild import builder
from swarmhub.envbuild.builder import (
    BuilderSettings,
    BuildFailed,
    image_problem,
    parse_line,
    pick_ref,
    repo2docker_config,
    resolve_ref,
    run_build,
)
from swarmhub.envbuild.buildpack import BUILDPACKS, NotebookBuildPack

NOTEBOOK = "10.213.7.11:5000/swarmhub/notebook@sha256:" + "a" * 64
COMMIT = "c" * 40
LS_REMOTE = (
    f"{'1' * 40}\tHEAD\n"
    f"{'1' * 40}\trefs/heads/main\n"
    f"{'2' * 40}\trefs/heads/v1\n"
    f"{'3' * 40}\trefs/tags/v1\n"
    f"{'4' * 40}\trefs/tags/v1^{{}}\n"
)


def request(**changes) -> EnvironmentRequest:
    values = dict(
        name="pandas",
        repo_url="https://git.example.org/pandas.git",
        ref=COMMIT,
        display_name="Pandas",
        description="",
        mem_limit=2 << 30,
        cpu_limit=1.0,
    )
    return EnvironmentRequest(**{**values, **changes})


def test_a_ref_is_a_branch_a_tag_peeled_to_its_commit_or_head():
    url = "https://git.example.org/x.git"
    assert pick_ref(LS_REMOTE, "main", url) == "1" * 40
    assert pick_ref(LS_REMOTE, "HEAD", url) == "1" * 40
    # a name that is both: git's order, the branch first
    assert pick_ref(LS_REMOTE, "v1", url) == "2" * 40
    assert pick_ref(LS_REMOTE.replace("refs/heads/v1", "refs/heads/v0"), "v1", url) == "4" * 40
    with pytest.raises(BuildFailed, match="no branch or tag 'v9' in https://git.example.org"):
        pick_ref(LS_REMOTE, "v9", url)


def test_git_reads_no_local_path_even_if_one_got_past_the_request_check(tmp_path):
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    settings = BuilderSettings(registry="r:5000", notebook_image=NOTEBOOK)
    for url in (f"file://{repo}", str(repo), f"ext::sh -c touch% {tmp_path}/owned"):
        with pytest.raises(BuildFailed, match="not a git repository the builder can read"):
            resolve_ref(url, "main", settings)
    assert not (tmp_path / "owned").exists()


def test_repo2docker_gets_swarmhubs_buildpacks_git_only_and_the_notebook_image():
    config = Config()
    exec(repo2docker_config(BuilderSettings("r:5000", NOTEBOOK)), {"c": config})  # noqa: S102
    r2d = config.Repo2Docker
    assert [p.__name__ for p in r2d.content_providers] == ["Git"]
    assert r2d.buildpacks == BUILDPACKS and r2d.default_buildpack is NotebookBuildPack
    assert r2d.base_image == NOTEBOOK
    assert r2d.extra_build_args == {"SWARMHUB_NOTEBOOK_IMAGE": NOTEBOOK}


def test_repo2docker_json_logs_become_phases():
    line = json.dumps({"message": "Step 1/4 : FROM x\n", "phase": "building"})
    assert parse_line(line, "fetching") == ("building", "Step 1/4 : FROM x")
    assert parse_line("not json\n", "building") == ("building", "not json")
    assert parse_line(json.dumps({"message": "odd", "phase": "dancing"}), "building") == (
        "building",
        "odd",
    )


def fake_repo2docker(tmp_path: Path, script: str) -> str:
    path = tmp_path / "repo2docker"
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)
    return str(path)


def test_a_refused_repository_fails_with_the_refusal_in_words(tmp_path):
    refusal = (
        "swarmhub.envbuild.buildpack.RefusedRepository: The repository describes its "
        "environment in environment.yml, which this builder does not build"
    )
    script = (
        f"echo '{json.dumps({'message': 'Cloning', 'phase': 'fetching'})}'\n"
        "echo 'Traceback (most recent call last):'\n"
        f"echo '{refusal}'\nexit 1\n"
    )
    settings = BuilderSettings("r:5000", NOTEBOOK, repo2docker=fake_repo2docker(tmp_path, script))
    seen: list[tuple[str, str]] = []
    with pytest.raises(BuildFailed) as failed:
        run_build(settings, request(), lambda phase, line: seen.append((phase, line)))
    assert str(failed.value).startswith("The repository describes its environment in environment")
    assert ("fetching", "Cloning") in seen and seen[0][0] == "fetching"


def test_a_failed_build_names_its_last_error(tmp_path):
    step = {"message": "Step 3/6 : RUN pip install nope", "phase": "building"}
    script = (
        f"echo '{json.dumps(step)}'\n"
        f"echo '{json.dumps({'message': 'ERROR: No matching distribution found for nope'})}'\n"
        "echo 'some trailing noise'\nexit 1\n"
    )
    settings = BuilderSettings("r:5000", NOTEBOOK, repo2docker=fake_repo2docker(tmp_path, script))
    with pytest.raises(BuildFailed, match="No matching distribution found for nope"):
        run_build(settings, request(), lambda phase, line: None)


def test_a_build_past_its_time_limit_is_stopped_with_what_it_started(tmp_path):
    marker = tmp_path / "child-alive"
    script = f"(sleep 30; touch {marker}) &\nsleep 30\n"
    settings = BuilderSettings(
        "r:5000", NOTEBOOK, timeout_s=1, repo2docker=fake_repo2docker(tmp_path, script)
    )
    started = time.monotonic()
    with pytest.raises(BuildFailed, match="ran past its time limit"):
        run_build(settings, request(), lambda phase, line: None)
    assert time.monotonic() - started < 20
    time.sleep(0.5)
    assert not marker.exists()


def inspected(layers: list[str], entrypoint=("tini", "--"), cmd=("jupyterhub-singleuser",)):
    return {
        "RootFS": {"Layers": layers},
        "Config": {"Entrypoint": list(entrypoint), "Cmd": list(cmd)},
    }


def test_an_image_must_hold_the_notebook_image_and_start_as_it_does():
    base = inspected(["l1", "l2"])
    assert image_problem(inspected(["l1", "l2", "l3"]), base) is None
    assert "not built on the cluster's notebook image" in image_problem(
        inspected(["x", "l3"]), base
    )
    assert "changes the notebook image's ENTRYPOINT" in image_problem(
        inspected(["l1", "l2", "l3"], entrypoint=("/bin/sh",)), base
    )
    assert "changes the notebook image's CMD" in image_problem(
        inspected(["l1", "l2"], cmd=("bash",)), base
    )


def test_the_image_is_named_by_environment_and_commit():
    settings = BuilderSettings("10.213.7.11:5000", NOTEBOOK)
    assert builder.image_name(settings, "pandas", COMMIT) == (
        "10.213.7.11:5000/swarmhub/env-pandas:cccccccccccc"
    )


@pytest.mark.parametrize("python_has_the_data_filter", [True, False])
def test_a_build_context_never_unpacks_outside_its_folder(
    tmp_path, monkeypatch, python_has_the_data_filter
):
    import io
    import tarfile

    from swarmhub.envbuild.engine import extract_context

    if not python_has_the_data_filter:  # Debian 12's Python 3.11.2, in the builder image
        monkeypatch.delattr(tarfile, "data_filter", raising=False)

    def context(*members: tarfile.TarInfo) -> tarfile.TarFile:
        data = io.BytesIO()
        with tarfile.open(fileobj=data, mode="w") as tar:
            for member in members:
                tar.addfile(member, io.BytesIO(b"x" * member.size))
        data.seek(0)
        return tarfile.open(fileobj=data)

    good = tarfile.TarInfo("src/a.txt")
    good.size = 1
    extract_context(context(good), str(tmp_path / "ok"))
    assert (tmp_path / "ok" / "src" / "a.txt").read_bytes() == b"x"
    for name, kind, target in [
        ("../escape.txt", tarfile.REGTYPE, ""),
        ("src/etc", tarfile.SYMTYPE, "/etc"),
        ("src/up", tarfile.SYMTYPE, "../../.."),
    ]:
        bad = tarfile.TarInfo(name)
        bad.type, bad.linkname = kind, target
        dest = tmp_path / f"bad-{len(list(tmp_path.iterdir()))}"
        with pytest.raises(Exception):  # noqa: B017 (the data filter's errors or ours)
            extract_context(context(bad), str(dest))
    assert not (tmp_path / "escape.txt").exists()
