"""The buildpacks the builder lets repo2docker choose from (Repo2Docker.buildpacks),
in order: a Dockerfile; a conda environment, refused; everything else (Binder's
requirements.txt, apt.txt and postBuild, or none of them) on the cluster's
notebook image.

Every built environment must run the way the cluster's servers run: as the
user's uid, with the notebook image's entrypoint and its jupyterhub-singleuser.
So it starts FROM the notebook image (repo2docker's base_image is set to it, by
digest), adds to it, and keeps its entrypoint and command.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from repo2docker.buildpacks.base import BuildPack
from repo2docker.buildpacks.docker import DockerBuildPack

# The repository's files go where the notebook image's seed folder is: each user's
# folder of the environment starts as a copy of them (hub/environments.py).
SEED_DIR = "/home/jovyan"
# A CA certificate the site's package mirrors or proxy need (images_extra_ca_file);
# without one, an empty file, so the Dockerfile is the same either way.
EXTRA_CA_ENV = "SWARMHUB_ENVBUILD_EXTRA_CA"
EMPTY_CA = str(Path(__file__).with_name("empty-ca.pem"))
PIP = "/opt/notebook/bin/pip"
# Files of conda, pipenv, R, Julia and Nix environments: none of them builds here.
FOREIGN = (
    "environment.yml",
    "environment.yaml",
    "Pipfile",
    "Pipfile.lock",
    "install.R",
    "DESCRIPTION",
    "Project.toml",
    "REQUIRE",
    "default.nix",
)


class RefusedRepository(Exception):
    """A repository this builder does not build, with the reason a person reads."""


class ForeignEnvironmentBuildPack(BuildPack):
    """A repository that describes its environment in a way this builder cannot
    build (conda needs conda-forge, pipenv, R, Julia, Nix): refused, saying so."""

    def detect(self) -> bool:
        return self.found() is not None

    def found(self) -> str | None:
        return next((name for name in FOREIGN if os.path.exists(self.binder_path(name))), None)

    def render(self, build_args: dict[str, str] | None = None) -> str:
        name = self.found()
        raise RefusedRepository(
            f"The repository describes its environment in {name}, which this builder does not "
            "build: conda's packages come from conda-forge, which the cluster's builder does not "
            "reach, and pipenv, R, Julia and Nix need their own base images. Use requirements.txt "
            "(pip), apt.txt (Debian packages) and postBuild, or a Dockerfile that starts FROM "
            "the cluster's notebook image."
        )


class NotebookBuildPack(BuildPack):
    """Binder's requirements.txt, apt.txt and postBuild, on the cluster's notebook
    image (base_image): apt as root, pip into the notebook's own environment, the
    repository's files into the seed folder, postBuild run there. Nothing else is
    downloaded: only the site's Debian and PyPI mirrors are needed."""

    def detect(self) -> bool:
        return True  # the last one tried: a repository of notebooks alone builds too

    def has(self, name: str) -> str | None:
        path = self.binder_path(name)
        return path if os.path.isfile(path) else None

    def get_build_script_files(self) -> dict[str, str]:
        return {os.environ.get(EXTRA_CA_ENV) or EMPTY_CA: "/tmp/swarmhub-extra-ca.pem"}

    def render(self, build_args: dict[str, str] | None = None) -> str:
        ca_file = next(iter(self.get_build_script_files()))
        ca_in_context, _ = self.generate_build_context_filename(ca_file)
        lines = [
            f"FROM {self.base_image}",
            "USER root",
            "ARG DEBIAN_FRONTEND=noninteractive",
            f"COPY {ca_in_context} /tmp/swarmhub-extra-ca.pem",
            "RUN cat /etc/ssl/certs/ca-certificates.crt /tmp/swarmhub-extra-ca.pem"
            " > /tmp/swarmhub-pip-ca.pem",
        ]
        apt = self.has("apt.txt")
        if apt:
            lines += [
                f"COPY src/{apt} /tmp/swarmhub-apt.txt",
                "RUN apt-get update -q"
                " && sed -e 's/#.*//' /tmp/swarmhub-apt.txt | xargs -r"
                " apt-get install -y -q --no-install-recommends"
                " && apt-get clean && rm -rf /var/lib/apt/lists/*",
            ]
        # no WORKDIR: the image keeps the notebook image's settings, cd in each step
        lines.append(f"COPY src/ {SEED_DIR}/")
        requirements = self.has("requirements.txt")
        if requirements:
            lines.append(
                f"RUN cd {SEED_DIR} && PIP_CERT=/tmp/swarmhub-pip-ca.pem"
                f" {PIP} install --no-cache-dir -r {requirements} && {PIP} check"
            )
        post_build = self.has("postBuild")
        if post_build:
            lines.append(
                f"RUN cd {SEED_DIR} && chmod +x {post_build}"
                f" && PIP_CERT=/tmp/swarmhub-pip-ca.pem ./{post_build}"
            )
        lines += [
            # as the notebook image leaves it: files everyone reads, no setuid or setgid
            f"RUN rm -f /tmp/swarmhub-* && chmod -R a+rX,go-w {SEED_DIR}"
            " && find / -xdev -perm /6000 -type f -exec chmod a-s {} +",
        ]
        lines += [f"LABEL {key}={_quote(value)}" for key, value in sorted(self.labels.items())]
        return "\n".join(lines) + "\n"


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


# The build argument a Dockerfile repository starts FROM: the builder sets it to
# the cluster's notebook image, by digest.
BASE_ARG = "SWARMHUB_NOTEBOOK_IMAGE"
_FROM = re.compile(r"^FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?\s*$", re.IGNORECASE)


def final_base(dockerfile: str) -> str | None:
    """The image the last stage of a Dockerfile starts FROM, as written (None: no FROM).
    A stage named earlier (FROM build AS x ... FROM x) is followed to its own base."""
    joined = re.sub(r"\\\n", " ", dockerfile)
    stages: dict[str, str] = {}
    base = None
    for line in joined.splitlines():
        m = _FROM.match(line.strip())
        if not m:
            continue
        image, alias = m.group(1), m.group(2)
        base = stages.get(image.lower(), image)
        if alias:
            stages[alias.lower()] = base
    return base


class NotebookDockerBuildPack(DockerBuildPack):
    """The repository's own Dockerfile, if its last stage starts FROM the notebook
    image: ARG SWARMHUB_NOTEBOOK_IMAGE, then FROM ${SWARMHUB_NOTEBOOK_IMAGE}."""

    def render(self, build_args: dict[str, str] | None = None) -> str:
        text: str = super().render(build_args)
        base = final_base(text)
        if base not in (f"${BASE_ARG}", f"${{{BASE_ARG}}}"):
            raise RefusedRepository(
                f"The Dockerfile's last stage starts FROM {base or 'nothing'}; an environment "
                "must start from the cluster's notebook image, so that its servers run as "
                f"their user with the hub's server: begin it with ARG {BASE_ARG} and "
                f"FROM ${{{BASE_ARG}}}."
            )
        return text


# repo2docker tries these in order and takes the first whose detect() is true.
BUILDPACKS = [NotebookDockerBuildPack, ForeignEnvironmentBuildPack, NotebookBuildPack]
