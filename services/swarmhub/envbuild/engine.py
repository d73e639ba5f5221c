"""repo2docker's container engine for the builder: rootless podman 4.3 (Debian 12),
which has `podman build` and `podman push` but not the `buildx` subcommands
repo2docker's docker engine calls. Registered as the entry point
"repo2docker.engines" = "swarmhub-podman" (services/pyproject.toml).

Builds run with the host's network (rootless, as the builder's account: the
firewall decides what it reaches).
"""

from __future__ import annotations

import tarfile
import tempfile
from collections.abc import Iterator
from typing import Any

from repo2docker.docker import DockerEngine
from repo2docker.utils import execute_cmd


class PodmanEngine(DockerEngine):
    _container_cli = "podman"  # no `docker version` / `buildx version` probing

    def build(
        self,
        *,
        push: bool = False,
        load: bool = False,
        buildargs: dict[str, str] | None = None,
        cache_from: list[str] | None = None,
        container_limits: dict[str, Any] | None = None,
        tag: str = "",
        custom_context: bool = False,
        dockerfile: str = "",
        fileobj: Any = None,
        path: str = "",
        labels: dict[str, str] | None = None,
        platform: str | None = None,
        **kwargs: Any,
    ) -> Iterator[str]:
        args = build_command(tag, buildargs, dockerfile, labels)
        with tempfile.TemporaryDirectory(prefix="swarmhub-build-") as context:
            if fileobj is not None:
                # repo2docker's own buildpacks hand over a tar of the context
                with tarfile.open(fileobj=fileobj) as tar:
                    tar.extractall(context, filter="data")
                path = context
            yield from execute_cmd([*args, path], True)
        if push and tag:  # the builder pushes itself, after checking the image
            yield from execute_cmd(push_command(tag, ""), True)


def build_command(
    tag: str,
    buildargs: dict[str, str] | None,
    dockerfile: str,
    labels: dict[str, str] | None,
) -> list[str]:
    # --network host: slirp4netns needs /dev/net/tun, which a host that is a
    # container may not have; the builder's account is held by the firewall instead.
    # --pull missing: the notebook image (by digest) comes from the registry once.
    args = ["podman", "build", "--network", "host", "--pull", "missing"]
    for key, value in (buildargs or {}).items():
        args += ["--build-arg", f"{key}={value}"]
    if dockerfile:
        args += ["--file", dockerfile]
    if tag:
        args += ["--tag", tag]
    for key, value in (labels or {}).items():
        args += ["--label", f"{key}={value}"]
    return args


def push_command(tag: str, digest_file: str) -> list[str]:
    args = ["podman", "push"]
    if digest_file:
        args += ["--digestfile", digest_file]
    return [*args, tag]
