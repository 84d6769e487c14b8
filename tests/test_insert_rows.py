"""service/core/db.insert_rows: COPY on PostgreSQL, executemany on SQLite; what goes in comes back the same, text with
tabs, newlines and backslashes, JSON and shared values included. Run on both databases (TEST_DATABASE_URL)."""
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from models.follower import Follower
from service.core.db import insert_rows

SHANGHAI = timezone(timedelta(hours=8))
NOW = datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=SHANGHAI)
AWKWARD = "a\tb\nc\\d\re \\N 民族团结"


def test_rows_come_back_as_written_with_shared_values(session):
    rows = [dict(openid=f"o-bulk-{i}", scene=AWKWARD if i == 0 else "", more_pages=[{"text": AWKWARD}] if i else [],
                 subscribed=i % 2 == 0, unsubscribed_at=None if i % 2 == 0 else NOW + timedelta(hours=i))
            for i in range(7)]
    shared = dict(first_seen_at=NOW, last_interaction_at=NOW, last_message_at=None, subscribed_at=NOW)
    assert insert_rows(session.connection(), Follower.__table__, iter(rows), shared, chunk=3) == 7
    assert insert_rows(session.connection(), Follower.__table__, []) == 0
    session.commit()
    stored = {f.openid: f for f in session.scalars(select(Follower))}
    assert sorted(stored) == [f"o-bulk-{i}" for i in range(7)]
    for row in rows:
        got = stored[row["openid"]]
        assert (got.scene, got.more_pages, got.subscribed, got.unsubscribed_at) == (
            row["scene"], row["more_pages"], row["subscribed"], row["unsubscribed_at"])
        assert (got.first_seen_at, got.last_message_at, got.subscribed_at) == (NOW, None, NOW)
