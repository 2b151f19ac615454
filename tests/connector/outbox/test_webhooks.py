"""Webhooks delivered to a real HTTP receiver on loopback: signed, retried, logged."""
from __future__ import annotations

import json

from sqlalchemy import select

from connector import orgs
from connector.identity import Actor
from connector.models import OutboxMessage
from connector.outbox import webhooks
from connector.outbox.models import WebhookDelivery
from connector.outbox.webhooks import SIGNATURE_HEADER, verify_signature
from connector.outbox.worker import deliver_once

H = lambda key: {"Authorization": f"Bearer {key}"}  # noqa: E731


def _endpoint(factory, url: str, events=None):
    return factory.run(lambda s: webhooks.add_endpoint(
        s, orgs.require_org(s, "acme"), url, actor=Actor("cli"), events=events))


def test_membership_events_arrive_signed_with_source_and_actor(app, factory, receiver):
    factory.org("acme")
    ep = _endpoint(factory, receiver.url)
    factory.member("acme", "ann@example.test")
    deliver_once(app)
    types = sorted(e["type"] for e in receiver.events())
    assert types == ["member.joined", "user.created"]
    for headers, body in receiver.requests:
        assert verify_signature(ep.secret, headers[SIGNATURE_HEADER], body)
        assert not verify_signature(ep.secret, headers[SIGNATURE_HEADER], body + b" ")
        assert not verify_signature("whsec_other", headers[SIGNATURE_HEADER], body)
        event = json.loads(body)
        assert event["source"] == "manual" and event["actor"] == "cli"
        assert headers["Connector-Event"] == event["type"]


def test_a_stale_signature_is_refused():
    body = b'{"a":1}'
    header = f"t=1000,v1={webhooks.sign('s', 1000, body)}"
    assert verify_signature("s", header, body, now=1000 + 10)
    assert not verify_signature("s", header, body, now=1000 + 3600)


def test_a_500_is_retried_and_every_attempt_is_logged(app, factory, receiver):
    app.config["OUTBOX_BACKOFF_SECONDS"] = 0
    factory.org("acme")
    ep = _endpoint(factory, receiver.url, events=["member.joined"])
    receiver.statuses = [500, 503]
    factory.member("acme", "ann@example.test")
    deliver_once(app)
    deliver_once(app)
    deliver_once(app)
    assert len(receiver.requests) == 3  # 500, 503, then 200
    assert len({json.loads(b)["id"] for _, b in receiver.requests}) == 1  # the same event
    log = factory.run(lambda s: list(s.scalars(select(WebhookDelivery).where(
        WebhookDelivery.endpoint_id == ep.id).order_by(WebhookDelivery.id))))
    assert [(d.attempt, d.status_code, d.ok) for d in log] == [(1, 500, False), (2, 503, False),
                                                               (3, 200, True)]
    [msg] = factory.run(lambda s: list(s.scalars(select(OutboxMessage).where(
        OutboxMessage.kind == "webhook"))))
    assert msg.status == "sent"


def test_gives_up_after_max_attempts_with_the_reason(app, factory, receiver):
    app.config.update(OUTBOX_BACKOFF_SECONDS=0, OUTBOX_MAX_ATTEMPTS=2)
    factory.org("acme")
    _endpoint(factory, receiver.url, events=["member.joined"])
    receiver.statuses = [500, 500, 500]
    factory.member("acme", "ann@example.test")
    for _ in range(3):
        deliver_once(app)
    [msg] = factory.run(lambda s: list(s.scalars(select(OutboxMessage).where(
        OutboxMessage.kind == "webhook"))))
    assert msg.status == "failed" and "HTTP 500" in msg.last_error
    assert len(receiver.requests) == 2


def test_api_manages_endpoints_lists_deliveries_and_redelivers(app, client, factory, receiver):
    factory.org("acme")
    key = factory.api_key("acme")
    r = client.post("/api/v1/organizations/acme/webhooks", headers=H(key),
                    json={"url": receiver.url, "events": ["member.joined"]})
    assert r.status_code == 201 and r.json["secret"].startswith("whsec_")
    hook_id = r.json["id"]
    assert client.post("/api/v1/organizations/acme/webhooks", headers=H(key),
                       json={"url": "ftp://x"}).json["error"]["code"] == "invalid_url"
    assert "secret" not in client.get("/api/v1/organizations/acme/webhooks",
                                      headers=H(key)).json["webhooks"][0]
    factory.member("acme", "ann@example.test")
    deliver_once(app)
    r = client.get(f"/api/v1/organizations/acme/webhooks/{hook_id}/deliveries", headers=H(key))
    [d] = r.json["deliveries"]
    assert d["ok"] and d["status_code"] == 200 and d["message_status"] == "sent"
    r = client.post(f"/api/v1/organizations/acme/webhooks/deliveries/{d['id']}/redeliver",
                    headers=H(key))
    assert r.status_code == 202
    deliver_once(app)
    assert [e["id"] for e in receiver.events()] == [receiver.events()[0]["id"]] * 2
    # Another organization's key sees nothing of it.
    factory.org("other")
    other = factory.api_key("other")
    assert client.get(f"/api/v1/organizations/acme/webhooks/{hook_id}/deliveries",
                      headers=H(other)).status_code == 404
    assert client.delete(f"/api/v1/organizations/acme/webhooks/{hook_id}",
                         headers=H(key)).status_code == 204


def test_private_and_loopback_targets_are_refused_unless_the_operator_allows_them(app, factory):
    factory.org("acme")
    for url in ("http://127.0.0.1:9/x", "http://169.254.169.254/latest", "http://localhost/x",
                "http://[::1]/x", "http://10.1.2.3/x"):
        try:
            _endpoint(factory, url)
        except Exception as err:  # noqa: BLE001
            assert getattr(err, "code", "") == "private_address", url
        else:
            raise AssertionError(f"{url} was accepted")
    with app.app_context():
        assert webhooks.blocked_target("http://93.184.215.14/hook") is None
    app.config["WEBHOOK_ALLOW_PRIVATE_NETWORKS"] = True
    assert _endpoint(factory, "http://127.0.0.1:9/x").id


def test_a_name_resolving_to_loopback_is_not_called(app, factory, receiver):
    app.config["OUTBOX_BACKOFF_SECONDS"] = 3600
    factory.org("acme")
    ep = _endpoint(factory, receiver.url.replace("127.0.0.1", "localhost"))
    app.config["WEBHOOK_ALLOW_PRIVATE_NETWORKS"] = False
    factory.member("acme", "ann@example.test")
    deliver_once(app)
    assert receiver.requests == []
    log = factory.run(lambda s: list(s.scalars(select(WebhookDelivery).where(
        WebhookDelivery.endpoint_id == ep.id))))
    assert log and all("non-public" in d.error or "not a public" in d.error for d in log)


def test_a_removed_endpoint_fails_its_queued_events(app, factory, receiver):
    factory.org("acme")
    ep = _endpoint(factory, receiver.url)
    factory.member("acme", "ann@example.test")
    factory.run(lambda s: webhooks.remove_endpoint(s, orgs.require_org(s, "acme"), ep.id,
                                                   actor=Actor("cli")))
    deliver_once(app)
    assert receiver.requests == []
    msgs = factory.run(lambda s: list(s.scalars(select(OutboxMessage).where(
        OutboxMessage.kind == "webhook"))))
    assert msgs and all(m.status == "failed" and "removed" in m.last_error for m in msgs)
