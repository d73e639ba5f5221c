"""swarmhub: JupyterHub extensions for a multi-host hub on Docker Swarm with NFS homes."""

__version__ = "0.1.0"
