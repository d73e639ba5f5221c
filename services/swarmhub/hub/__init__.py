"""The hub: JupyterHub's configuration, spawner, authenticators, proxy and pages."""
