"""swarmhub.nbexchange: nbgrader's exchange plugin for the course exchange.

nbgrader (JupyterLab's Assignments tab, the formgrader, the `nbgrader` CLI) moves
assignments, submissions and feedback through the course exchange's HTTP API
(swarmhub.common.exchange_protocol) instead of a shared folder. One module per
nbgrader operation, each a subclass of nbgrader.exchange.abc's class, chosen in
nbgrader_config.py (images/notebook/nbgrader_config.py).
"""
