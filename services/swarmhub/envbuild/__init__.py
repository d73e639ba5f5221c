"""Environments built from git repositories (issue 15): the builder.

Design (the parts not built yet are marked "to do"):

- The builder runs on the hub host as an unprivileged account with rootless
  podman: a repository's Dockerfile steps run as "root" only inside a user
  namespace, as that account's subordinate ids on the host, never as root on
  the hub host. Docker's classic builder cannot do that, and repo2docker's own
  docker engine needs buildx, which Debian 12 does not ship.
- repo2docker (pinned) does the fetching, picks the buildpack and writes the
  Dockerfile; swarmhub extends it through its extension points only:
  - engine.py: a container engine (entry point "repo2docker.engines",
    "swarmhub-podman") that builds and pushes with podman 4.3's plain
    `podman build`/`podman push` (no buildx);
  - buildpack.py: the buildpacks it may pick (Repo2Docker.buildpacks): a
    Dockerfile (which must start FROM the cluster's notebook image), or
    Binder's requirements.txt, apt.txt and postBuild on the cluster's
    notebook image with pip and apt only; a conda repository is refused
    with a message saying why;
  - Repo2Docker.content_providers = [Git] only: the others ask outside
    services (Zenodo, Dataverse...) at every build.
- to do: the builder service (queue with at most N builds at once, timeout,
  catalog of environments on the hub's disk, build logs), the admin page in
  the hub (extra_handlers, SSE log stream), pre-pulls to the nodes, removal,
  the spawner reading built environments, the role, the firewall rule for the
  builder's account, the trial's git server over https.
"""
