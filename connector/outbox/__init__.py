"""The outbox: emails and webhooks written in the transaction of the change that caused them,
delivered after commit by the worker."""
