"""This machine's Docker engine, through the docker CLI, for the integration tests that
make containers of their own (throwaway hosts, a hub container). Nothing here removes
what a test made: each test cleans up its own containers and images.
"""

from __future__ import annotations

import hashlib
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml

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


def ensure_docker_engine() -> None:
    """A running engine on this machine: installed and started when there is none, as
    script/cluster does; the test fails with dockerd's complaint when it cannot start."""
    if docker("info", check=False).returncode == 0:
        return
    started = subprocess.run(
        ["bash", "-c", "source script/lib/common.sh; ensure_docker_engine"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if started.returncode != 0:
        pytest.fail(f"no Docker engine, and it did not start:\n{started.stderr[-2000:]}")


def ensure_base_image(name: str = BASE_IMAGE) -> str:
    """A Debian base image (BASE_IMAGE, or swarmhub/base:SUITE) on this machine's engine,
    built when missing (the engine installed and started when there is none, as
    script/cluster does)."""
    ensure_docker_engine()
    suite = name.rsplit(":", 1)[-1]
    subprocess.run([str(ROOT / "images/base/build-base-image"), name, suite], check=True)
    return name


# Where pip in an image build finds the CA of a TLS-inspecting proxy (as the trial
# inventory's images_extra_ca_file); none on machines without one.
SYSTEM_CA = Path("/etc/ssl/certs/ca-certificates.crt")
# The images built from another Debian release, as the images role has them.
OTHER_BASES: dict[str, str] = yaml.safe_load((ROOT / "roles/images/defaults/main.yml").read_text())[
    "images_other_bases"
]
_built: dict[str, str] = {}


def ensure_cluster_image(name: str) -> str:
    """One of this checkout's images (jupyterhub, proxy, ...), built on this machine's
    engine when missing.

    Tagged by a hash of its build context (as the images role tags it), so a second
    run, or a second test, reuses it, and a changed checkout gets its own. Never
    removed by a test: others in the same run may use it; the images of earlier
    checkouts are removed.
    """
    if name in _built:
        return _built[name]
    base = ensure_base_image(OTHER_BASES.get(name, BASE_IMAGE))
    with tempfile.TemporaryDirectory(prefix=f"swarmhub-{name}-image-") as out:
        extra_ca = ["--extra-ca", str(SYSTEM_CA)] if SYSTEM_CA.is_file() else []
        subprocess.run(
            [str(ROOT / "script/lib/build-images"), out, *extra_ca],
            check=True,
            capture_output=True,
            timeout=120,
        )
        context = Path(out) / name
        digest = hashlib.sha256()
        for path in sorted(p for p in context.rglob("*") if p.is_file()):
            digest.update(str(path.relative_to(context)).encode() + b"\0" + path.read_bytes())
        image = f"swarmhub/{name}:test-{digest.hexdigest()[:12]}"
        if docker("image", "inspect", image, check=False).returncode != 0:
            build = docker("build", "-q", "--build-arg", f"BASE={base}", "-t", image, str(context))
            assert build.returncode == 0, build.stderr
    _built[name] = image
    _remove_older_test_images(name, image)
    return image


def _remove_older_test_images(name: str, current: str) -> None:
    """Images of earlier checkouts go (one a source change), so they do not pile up on
    this machine; their build stages stay as the build cache. One in use stays too."""
    listed = docker(
        "image", "ls", "--filter", f"reference=swarmhub/{name}:test-*",
        "--format", "{{.Repository}}:{{.Tag}}", check=False,
    ).stdout.split()  # fmt: skip
    older = [tag for tag in listed if tag != current]
    if older:
        docker("image", "rm", *older, check=False)


def ensure_hub_image() -> str:
    """The hub image of this checkout (see ensure_cluster_image)."""
    return ensure_cluster_image("jupyterhub")
