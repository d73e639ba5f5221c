"""repo2docker's container engine for the builder: rootless podman 4.3 (Debian 12),
which has `podman build` and `podman push` but not the `buildx` subcommands
repo2docker's docker engine calls. Registered as the entry point
"repo2docker.engines" = "swarmhub-podman" (services/pyproject.toml).

Builds run with the host's network (rootless, as the builder's account: the
firewall decides what it reaches).
"""

from __future__ import annotations

import os
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
                    extract_context(tar, context)
                path = context
            yield from execute_cmd([*args, path], True)
        if push and tag:  # the builder pushes itself, after checking the image
            yield from execute_cmd(push_command(tag, ""), True)


def extract_context(tar: tarfile.TarFile, dest: str) -> None:
    """Unpack a build context, refusing what could land outside it (an absolute or
    ../ name, a link out of it, a device): Python's "data" filter where it has one
    (Debian 12's 3.11.2 does not), the same checks by hand where not."""
    if hasattr(tarfile, "data_filter"):
        tar.extractall(dest, filter="data")
        return
    root = os.path.realpath(dest)
    for member in tar.getmembers():
        target = os.path.realpath(os.path.join(root, member.name))
        if member.issym():
            linked = os.path.join(os.path.dirname(target), member.linkname)
        elif member.islnk():
            linked = os.path.join(root, member.linkname)
        else:
            linked = target
        inside = all(
            os.path.commonpath([root, os.path.realpath(p)]) == root for p in (target, linked)
        )
        if not inside or member.isdev() or os.path.isabs(member.name):
            raise ValueError(
                f"{member.name!r} in the repository points outside it (a link out, or a "
                "device): remove it from the repository and build again"
            )
    tar.extractall(dest)


def build_command(
    tag: str,
    buildargs: dict[str, str] | None,
    dockerfile: str,
    labels: dict[str, str] | None,
) -> list[str]:
    # --network host: slirp4netns needs /dev/net/tun, which a host that is a
    # container may not have; the builder's account is held by the firewall instead.
    # --pull=missing (podman 4.3 takes no separate value): the notebook image, by
    # digest, comes from the registry once.
    args = ["podman", "build", "--network", "host", "--pull=missing"]
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
