"""This machine's Docker engine, through the docker CLI, for the integration tests that
make containers of their own (throwaway hosts, a hub container). Nothing here removes
what a test made: each test cleans up its own containers and images.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The cluster's base image: the test hosts are made FROM it.
BASE_IMAGE = "swarmhub/base:bookworm"


def docker(*args: str, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    """`docker ARGS...`, its output captured as text (raises CalledProcessError when check)."""
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, check=check, timeout=900, **kwargs
    )


def sh(container: str, command: str, check: bool = True) -> str:
    """A shell command in a running container; its standard output."""
    result = docker("exec", container, "bash", "-c", command, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"{command!r} failed on {container}:\n{result.stdout}{result.stderr}")
    return result.stdout


def ensure_base_image() -> str:
    """BASE_IMAGE on this machine's engine (built when missing). Fails the test, saying how
    to start one, when there is no Docker engine."""
    if docker("info", check=False).returncode != 0:
        pytest.fail(
            "no Docker engine: start it (source script/lib/common.sh; ensure_docker_engine)"
        )
    subprocess.run([str(ROOT / "images/base/build-base-image"), BASE_IMAGE], check=True)
    return BASE_IMAGE
