"""Real builds of environments (issue 15): the builder image from images/envbuild,
run on the local engine with the options the role will give it (no capabilities
but SETUID and SETGID for newuidmap, rootless podman inside), the cluster's real
notebook image loaded into it, and repositories fetched over https from
tests/gitserver.py on loopback. Nothing is pushed here (the cluster tier pushes to
its registry); pip and apt reach the package mirrors the image builds use.

Prints the build times, cold and with podman's cache, and keeps them in
test-artifacts/envbuild-timings.txt.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.gitserver import GitServer

ROOT = Path(__file__).resolve().parents[2]
BASE = "swarmhub/base:bookworm"
BUILDER_IMAGE = "swarmhub-test/envbuild:latest"
NOTEBOOK_IMAGE = "swarmhub-test/notebook:latest"
CONTAINER = f"swarmhub-test-envbuild-{os.getpid()}"
# the notebook image as the builder knows it (in the cluster: the registry's, by digest)
NOTEBOOK_IN_BUILDER = "localhost/swarmhub/notebook:test"
# what the role gives the builder's container (images/envbuild/Dockerfile says why)
BUILDER_OPTIONS = [
    "--cap-drop", "ALL", "--cap-add", "SETUID", "--cap-add", "SETGID",
    "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
    "--security-opt", "systempaths=unconfined",
]  # fmt: skip
TIMINGS = ROOT / "test-artifacts" / "envbuild-timings.txt"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="Docker needs root")

BUILD_SCRIPT = """
import json, sys
from swarmhub.common.environment_requests import EnvironmentRequest
from swarmhub.envbuild.builder import BuilderSettings, BuildFailed, run_build
spec = json.loads(sys.argv[1])
settings = BuilderSettings(registry="localhost", notebook_image=spec["notebook"], push=False)
lines = []
try:
    r = run_build(settings, EnvironmentRequest(**spec["request"]), lambda *line: lines.append(line))
    out = {"ok": True, "image": r.image, "commit": r.commit, "seconds": r.seconds}
except BuildFailed as e:
    out = {"ok": False, "message": str(e)}
out["phases"] = sorted({p for p, _ in lines})
out["tail"] = [l for _, l in lines[-40:]]
print(json.dumps(out))
"""


def sh(*argv: str, timeout: float = 1800, check: bool = True, **kw) -> subprocess.CompletedProcess:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)
    if check and result.returncode != 0:
        pytest.fail(f"{argv} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> None:
    sh("bash", "-c", "source script/lib/common.sh; ensure_docker_engine", cwd=ROOT)
    sh(str(ROOT / "images" / "base" / "build-base-image"), BASE)
    contexts = tmp_path_factory.mktemp("contexts")
    sh(str(ROOT / "script/lib/build-images"), str(contexts),
       "--extra-ca", "/etc/ssl/certs/ca-certificates.crt")  # fmt: skip
    for image, context in ((BUILDER_IMAGE, "envbuild"), (NOTEBOOK_IMAGE, "notebook")):
        sh("docker", "build", "-q", "--pull=false", "--build-arg", f"BASE={BASE}", "-t", image,
           str(contexts / context))  # fmt: skip


@pytest.fixture(scope="module")
def git(tmp_path_factory) -> Iterator[GitServer]:
    server = GitServer(tmp_path_factory.mktemp("git"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def builder(images, git, tmp_path_factory) -> Iterator[str]:
    # podman's storage on this machine's filesystem, with the kernel's overlay, as the
    # role gives it (roles/envbuild: envbuild_storage_driver)
    storage = tmp_path_factory.mktemp("podman-storage")
    os.chown(storage, 1000, 1000)  # the image's default builder uid
    sh("docker", "run", "-d", "--pull", "never", "--name", CONTAINER, *BUILDER_OPTIONS,
       "-v", f"{storage}:/home/builder/.local/share/containers", "-e", "STORAGE_DRIVER=overlay",
       # loopback: the test's git server
       "--network", "host",
       "-v", f"{git.ca}:/etc/swarmhub/test-git-ca.pem:ro",
       "-e", "GIT_SSL_CAINFO=/etc/swarmhub/test-git-ca.pem",
       BUILDER_IMAGE, "sleep", "infinity")  # fmt: skip
    try:
        # the notebook image into the builder's own (rootless) storage
        saved = subprocess.Popen(["docker", "save", NOTEBOOK_IMAGE], stdout=subprocess.PIPE)
        loaded = subprocess.run(
            ["docker", "exec", "-i", CONTAINER, "podman", "load"],
            stdin=saved.stdout, capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        saved.wait(timeout=60)
        assert loaded.returncode == 0, loaded.stderr
        # "Loaded image: docker.io/swarmhub-test/notebook:latest"
        loaded_name = loaded.stdout.strip().splitlines()[-1].split(": ", 1)[1].split(",")[0]
        sh("docker", "exec", CONTAINER, "podman", "tag", loaded_name, NOTEBOOK_IN_BUILDER)
        yield CONTAINER
    finally:
        print(sh("docker", "logs", "--tail", "20", CONTAINER, check=False).stdout)
        sh("docker", "rm", "-f", CONTAINER, check=False)
        shutil.rmtree(storage, ignore_errors=True)  # gigabytes of layers


def build(container: str, git: GitServer, name: str, ref: str = "main") -> dict:
    request = {
        "name": name, "repo_url": git.url(name), "ref": ref, "display_name": name,
        "description": "", "mem_limit": 2 << 30, "cpu_limit": 1.0,
    }  # fmt: skip
    spec = json.dumps({"request": request, "notebook": NOTEBOOK_IN_BUILDER})
    out = sh("docker", "exec", container, "python3", "-c", BUILD_SCRIPT, spec).stdout
    result = json.loads(out.strip().splitlines()[-1])
    print(f"\nbuild of {name}: " + ("ok" if result["ok"] else result["message"]))
    if not result["ok"]:
        print("\n".join(result["tail"]))
    return result


def run_in(container: str, image: str, command: str) -> str:
    """A command in the built image, as python3 of the image (no network)."""
    return sh(
        "docker", "exec", container, "podman", "run", "--rm", "--network", "none",
        "--entrypoint", "sh", image, "-c", command,
    ).stdout.strip()  # fmt: skip


def record(name: str, seconds: float) -> None:
    TIMINGS.parent.mkdir(exist_ok=True)
    with TIMINGS.open("a") as f:
        f.write(f"{name} {seconds:.1f}\n")
    print(f"\n{name}: {seconds:.1f} s")


def test_a_requirements_repository_builds_on_the_notebook_image(builder, git):
    git.add_repo(
        "pandas",
        {
            "requirements.txt": "six==1.16.0\n",
            "apt.txt": "# a Debian package\ntree\n",
            "postBuild": "#!/bin/sh\necho from-postBuild > postbuild.txt\n",
            "intro.ipynb": json.dumps({"cells": [], "nbformat": 4, "nbformat_minor": 5}),
        },
    )
    cold = build(builder, git, "pandas")
    assert cold["ok"], cold
    assert {"fetching", "building", "checking"} <= set(cold["phases"])
    record("envbuild_requirements_cold_s", cold["seconds"])
    out = run_in(
        builder, cold["image"],
        "python -c 'import six; print(six.__version__)'; tree --version | cut -c1-9; "
        "cat /home/jovyan/postbuild.txt; ls /home/jovyan",
    )  # fmt: skip
    lines = out.splitlines()
    assert lines[:3] == ["1.16.0", "tree v2.1", "from-postBuild"], out
    assert "intro.ipynb" in lines[3:] and "requirements.txt" in lines[3:]
    # the notebook image's own server is still there, untouched
    assert run_in(builder, cold["image"], "command -v jupyterhub-singleuser").endswith(
        "/opt/notebook/bin/jupyterhub-singleuser"
    )
    cached = build(builder, git, "pandas")
    assert cached["ok"] and cached["image"] == cold["image"], cached
    record("envbuild_requirements_cached_s", cached["seconds"])


def test_a_dockerfile_repository_from_the_notebook_image_builds(builder, git):
    git.add_repo(
        "docker-env",
        {
            "Dockerfile": (
                "ARG SWARMHUB_NOTEBOOK_IMAGE\nFROM ${SWARMHUB_NOTEBOOK_IMAGE}\n"
                "RUN echo from-the-dockerfile > /opt/marker\n"
            )
        },
    )
    cold = build(builder, git, "docker-env")
    assert cold["ok"], cold
    record("envbuild_dockerfile_cold_s", cold["seconds"])
    assert run_in(builder, cold["image"], "cat /opt/marker") == "from-the-dockerfile"
    cached = build(builder, git, "docker-env")
    assert cached["ok"], cached
    record("envbuild_dockerfile_cached_s", cached["seconds"])


ENTRYPOINT_CHANGED = (
    'ARG SWARMHUB_NOTEBOOK_IMAGE\nFROM ${SWARMHUB_NOTEBOOK_IMAGE}\nENTRYPOINT ["/bin/sh"]\n'
)


@pytest.mark.parametrize(
    ("name", "files", "words"),
    [
        ("other-base", {"Dockerfile": f"FROM {BASE}\nRUN true\n"}, f"starts FROM {BASE};"),
        ("conda", {"environment.yml": "dependencies: [numpy]\n"}, "in environment.yml"),
        (
            "entrypoint",
            {"Dockerfile": ENTRYPOINT_CHANGED},
            "changes the notebook image's ENTRYPOINT",
        ),
        (
            "pip-fails",
            {"requirements.txt": "swarmhub-no-such-package==0.0.1\n"},
            "The build failed: ERROR: No matching distribution found for swarmhub-no-such-package",
        ),
    ],
)
def test_a_repository_that_cannot_be_an_environment_fails_saying_why(
    builder, git, name, files, words
):
    git.add_repo(name, files)
    result = build(builder, git, name)
    assert not result["ok"] and words in result["message"], result
    if name != "pip-fails":  # a refusal is told in its own words alone
        assert not result["message"].startswith("The build failed"), result
