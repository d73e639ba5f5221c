"""The course exchange: nbgrader's releases, submissions and feedback, kept on the
hub's storage by a sidecar that knows who asks (swarmhub.common.exchange_protocol)."""
