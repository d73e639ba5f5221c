"""Which repositories the environment builder builds, and how (issue 15): repo2docker
picks among swarmhub's buildpacks. The builds themselves, with podman, are in the
integration tier."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from swarmhub.envbuild.buildpack import (
    BUILDPACKS,
    NotebookBuildPack,
    NotebookDockerBuildPack,
    RefusedRepository,
    final_base,
)

NOTEBOOK = "10.213.7.11:5000/swarmhub/notebook@sha256:" + "a" * 64


def pick(repo: Path):
    """The buildpack repo2docker would take for `repo`, as it does (in the repo's folder)."""
    cwd = os.getcwd()
    os.chdir(repo)
    try:
        for cls in BUILDPACKS:
            bp = cls(base_image=NOTEBOOK)
            if bp.detect():
                return bp
    finally:
        os.chdir(cwd)
    raise AssertionError("the last buildpack takes any repository")


def render(repo: Path) -> str:
    cwd = os.getcwd()
    os.chdir(repo)
    try:
        return pick(repo).render({})
    finally:
        os.chdir(cwd)


def make(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_requirements_apt_and_postbuild_build_on_the_notebook_image(tmp_path):
    repo = make(
        tmp_path,
        {
            "requirements.txt": "pandas==2.2.3\n",
            "apt.txt": "# tools\ngraphviz\n",
            "postBuild": "#!/bin/sh\necho done\n",
            "intro.ipynb": "{}",
        },
    )
    assert isinstance(pick(repo), NotebookBuildPack)
    dockerfile = render(repo)
    lines = dockerfile.splitlines()
    assert lines[0] == f"FROM {NOTEBOOK}"
    # apt first (as root), then the files into the seed folder, pip, postBuild there
    order = [
        next(i for i, line in enumerate(lines) if marker in line)
        for marker in ("apt-get install", "COPY src/ /home/jovyan/", "pip install", "./postBuild")
    ]
    assert order == sorted(order), dockerfile
    assert "/opt/notebook/bin/pip install --no-cache-dir -r requirements.txt" in dockerfile
    # the notebook image's entrypoint, command and folder are kept: none is set here
    assert not any(line.startswith(("ENTRYPOINT", "CMD", "WORKDIR")) for line in lines)
    assert "chmod a-s" in dockerfile  # no setuid or setgid file, as in the notebook image


def test_binder_folder_files_are_used_and_a_repository_of_notebooks_alone_builds(tmp_path):
    binder = make(tmp_path / "b", {"binder/requirements.txt": "numpy\n", "a.ipynb": "{}"})
    assert "-r binder/requirements.txt" in render(binder)
    plain = make(tmp_path / "p", {"a.ipynb": "{}"})
    dockerfile = render(plain)
    assert "pip install" not in dockerfile and "apt-get" not in dockerfile
    assert "COPY src/ /home/jovyan/" in dockerfile


@pytest.mark.parametrize("name", ["environment.yml", "Pipfile", "install.R", "Project.toml"])
def test_conda_and_other_foreign_environments_are_refused_saying_why(tmp_path, name):
    repo = make(tmp_path, {name: "x\n", "requirements.txt": "numpy\n"})
    with pytest.raises(RefusedRepository) as refused:
        render(repo)
    message = str(refused.value)
    assert f"describes its environment in {name}" in message
    assert "conda-forge, which the cluster's builder does not reach" in message
    assert "FROM the cluster's notebook image" in message


def test_a_dockerfile_from_the_notebook_image_is_built_as_it_is(tmp_path):
    text = "ARG SWARMHUB_NOTEBOOK_IMAGE\nFROM ${SWARMHUB_NOTEBOOK_IMAGE}\nRUN pip install x\n"
    repo = make(tmp_path, {"Dockerfile": text, "requirements.txt": "ignored\n"})
    assert isinstance(pick(repo), NotebookDockerBuildPack)
    assert render(repo) == text


@pytest.mark.parametrize(
    ("text", "base"),
    [
        ("FROM python:3.12\n", "python:3.12"),
        ("FROM scratch\n", "scratch"),
        # an earlier stage from the notebook image does not make the last one so
        ("FROM ${SWARMHUB_NOTEBOOK_IMAGE} AS b\nFROM debian\nCOPY --from=b / /\n", "debian"),
    ],
)
def test_a_dockerfile_from_another_image_is_refused_before_building(tmp_path, text, base):
    repo = make(tmp_path, {"Dockerfile": text})
    with pytest.raises(RefusedRepository) as refused:
        render(repo)
    assert f"last stage starts FROM {base};" in str(refused.value)
    assert "FROM ${SWARMHUB_NOTEBOOK_IMAGE}" in str(refused.value)


def test_the_last_stage_is_followed_to_its_base():
    assert final_base("FROM ${SWARMHUB_NOTEBOOK_IMAGE} AS deps\nRUN x\nFROM deps\n") == (
        "${SWARMHUB_NOTEBOOK_IMAGE}"
    )
    assert final_base("from \\\n  $SWARMHUB_NOTEBOOK_IMAGE\n") == "$SWARMHUB_NOTEBOOK_IMAGE"
    assert final_base("FROM --platform=linux/amd64 debian AS x\n") == "debian"
    assert final_base("# no FROM\n") is None
