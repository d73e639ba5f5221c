# nbgrader in every server of this hub (and in each course's formgrader): the
# course exchange, reached over HTTP with the server's own hub token, instead of
# a shared folder (swarmhub.nbexchange; README, "Courses"). The courses a person
# sees are those the exchange says they are in.
c = get_config()  # noqa: F821
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
# Assignments go into the home, whichever folder the server started in (its
# environment's or project's), so the Assignments tab finds them after a switch.
import os  # noqa: E402

c.Exchange.assignment_dir = os.environ.get("HOME") or "."
