"""The overview's picture: active members by source over time, drawn server-side."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from connector import db, orgs
from connector.console import queries
from connector.console.chart import line_chart
from connector.identity import Identity, Source
from connector.models import Membership


def test_series_counts_active_members_cumulatively_by_join_day(app, factory):
    factory.org("acme")
    factory.provision("acme", [Identity(email=f"c{i}@acme.test") for i in range(3)],
                      source=Source.CSV)
    factory.provision("acme", [Identity(email=f"s{i}@acme.test") for i in range(2)],
                      source=Source.SCIM, connection="scim:1")
    now = datetime.now(UTC)

    def age(session):
        ids = session.scalars(select(Membership.id).where(Membership.source == "csv")
                              .order_by(Membership.id)).all()
        session.execute(update(Membership).where(Membership.id == ids[0])
                        .values(created_at=now - timedelta(days=40)))
        session.execute(update(Membership).where(Membership.id == ids[1])
                        .values(created_at=now - timedelta(days=5)))
        session.execute(update(Membership).where(Membership.id == ids[2])
                        .values(status="deactivated"))
    factory.run(age)
    with app.app_context():
        org = orgs.require_org(db.session(), "acme")
        days, series = queries.source_series(db.session(), org, days=30, today=now.date())
    assert len(days) == 30 and days[-1] == now.date()
    # One CSV member from before the window, one joined 5 days ago; the deactivated one is out.
    assert series["csv"][0] == 1 and series["csv"][-6] == 2 and series["csv"][-1] == 2
    assert series["scim"][-1] == 2 and series["scim"][0] == 0
    svg = str(line_chart(days, series, title="t"))
    assert svg.count("<polyline") == 2 and "<title id=\"chart-title\">t</title>" in svg
