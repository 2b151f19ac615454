"""The outbox: emails and webhooks written in the transaction of the change, delivered after commit."""
