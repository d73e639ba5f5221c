from swarmhub.hub.hubconfig import configure, load_settings
configure(c, load_settings("/etc/swarmhub/hub.json"))  # noqa: F821 (c is given by JupyterHub)
