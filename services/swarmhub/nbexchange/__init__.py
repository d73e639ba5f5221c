"""swarmhub.nbexchange: nbgrader's exchange plugin for the course exchange.

nbgrader (JupyterLab's Assignments tab, the formgrader, the `nbgrader` CLI) moves
assignments, submissions and feedback through the course exchange's HTTP API
(swarmhub.common.exchange_protocol) instead of a shared folder. One module per
nbgrader operation, each a subclass of nbgrader.exchange.abc's class, chosen in
nbgrader_config.py (see NBGRADER_CONFIG).
"""

NBGRADER_CONFIG = """\
c.ExchangeFactory.exchange = "swarmhub.nbexchange.exchange.Exchange"
c.ExchangeFactory.fetch_assignment = "swarmhub.nbexchange.fetch_assignment.ExchangeFetchAssignment"
c.ExchangeFactory.fetch_feedback = "swarmhub.nbexchange.fetch_feedback.ExchangeFetchFeedback"
c.ExchangeFactory.release_assignment = (
    "swarmhub.nbexchange.release_assignment.ExchangeReleaseAssignment"
)
c.ExchangeFactory.release_feedback = "swarmhub.nbexchange.release_feedback.ExchangeReleaseFeedback"
c.ExchangeFactory.list = "swarmhub.nbexchange.list.ExchangeList"
c.ExchangeFactory.submit = "swarmhub.nbexchange.submit.ExchangeSubmit"
c.ExchangeFactory.collect = "swarmhub.nbexchange.collect.ExchangeCollect"
c.Authenticator.plugin_class = "swarmhub.nbexchange.auth.CourseAuthPlugin"
"""
