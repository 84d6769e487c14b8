"""service/core/fastsql.py: Core statements built once per dialect, and `pipeline`, the one function that sends
statements (compiled by SQLAlchemy) to the driver itself, in one psycopg pipeline on PostgreSQL.

Run on SQLite by default and on PostgreSQL with TEST_DATABASE_URL."""
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import bindparam, insert, select, update

from models.conversation import ConversationDraft
from models.follower import Follower
from service.core import fastsql

SHANGHAI = timezone(timedelta(hours=8))
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=SHANGHAI)

_follower = Follower.__table__
_draft = ConversationDraft.__table__
_ADD_FOLLOWER = fastsql.PerDialect(lambda dialect: fastsql.insert_for(dialect)(_follower).values(
    openid=bindparam("openid"), subscribed=True, first_seen_at=bindparam("now"), last_interaction_at=bindparam("now"),
    scene="", more_pages=bindparam("pages")).on_conflict_do_nothing(index_elements=["openid"])
    .returning(_follower.c.openid, _follower.c.first_seen_at, _follower.c.more_pages))
_FOLLOWER = select(_follower.c.first_seen_at, _follower.c.more_pages).where(_follower.c.openid == bindparam("openid"))


def _add(session, openid: str, pages=("a", "b")):
    return (_ADD_FOLLOWER(session.get_bind().dialect), {"openid": openid, "now": NOW, "pages": list(pages)})


def test_a_statement_is_built_once_per_dialect(session):
    dialect = session.get_bind().dialect
    assert _ADD_FOLLOWER(dialect) is _ADD_FOLLOWER(dialect)


def test_model_default_is_the_columns_python_default():
    assert fastsql.model_default(_follower.c.scene) == ""
    assert fastsql.model_default(_follower.c.more_pages) == []


def test_pipeline_returns_each_statements_rows_with_the_columns_types(session):
    """Date-times come back aware and UTC-equal, JSON decoded, as Connection.execute would give them."""
    rows = fastsql.pipeline(session.connection(), [_add(session, "o_one"), _add(session, "o_one"),
                                                   (_FOLLOWER, {"openid": "o_one"}),
                                                   (update(_follower).values(scene="x"), {})])
    (openid, first_seen, pages), = rows[0]
    assert openid == "o_one" and first_seen == NOW and first_seen.tzinfo is not None and pages == ["a", "b"]
    assert rows[1] == []  # the key was taken: nothing returned
    assert [tuple(row) for row in rows[2]] == [(NOW, ["a", "b"])]
    assert rows[3] == []  # no rows to return
    assert tuple(session.connection().execute(_FOLLOWER, {"openid": "o_one"}).one()) == (NOW, ["a", "b"])


def test_pipeline_runs_inside_the_sessions_transaction(session):
    fastsql.pipeline(session.connection(), [_add(session, "o_undone")])
    session.rollback()
    assert session.get(Follower, "o_undone") is None
    fastsql.pipeline(session.connection(), [_add(session, "o_kept")])
    session.commit()
    assert session.get(Follower, "o_kept") is not None


def test_pipeline_with_commit_ends_the_transaction_and_the_session_then_commits_nothing(session, session_factory):
    fastsql.pipeline(session.connection(), [_add(session, "o_committed")], commit=True)
    session.commit()
    with session_factory() as other:
        assert other.get(Follower, "o_committed").first_seen_at == NOW
    fastsql.pipeline(session.connection(), [_add(session, "o_next")])  # the session begins its next transaction
    session.rollback()
    assert session.get(Follower, "o_next") is None


def test_a_failing_statement_fails_the_transaction_and_a_rollback_recovers(session):
    bad = insert(_draft).values(openid=bindparam("openid"), flow="f", step="", data={}, version=1,
                                updated_at=NOW, expires_at=None)  # expires_at is NOT NULL
    with pytest.raises(Exception):
        fastsql.pipeline(session.connection(), [_add(session, "o_before"), (bad, {"openid": "o_bad"})])
    session.rollback()
    assert session.get(Follower, "o_before") is None
    fastsql.pipeline(session.connection(), [_add(session, "o_after")])
    session.commit()
    assert session.get(Follower, "o_after") is not None


def test_pipeline_refuses_a_statement_that_leaves_a_python_default_to_sqlalchemy(session):
    """The statements bypass SQLAlchemy's execution, which fills in Python-side defaults: every column must have
    its value in the statement or its parameters."""
    incomplete = insert(_follower).values(openid=bindparam("openid"))
    with pytest.raises(ValueError, match="give these columns a value"):
        fastsql.pipeline(session.connection(), [(incomplete, {"openid": "o_partial"})])
    session.rollback()


def test_on_postgresql_the_statements_and_the_commit_share_one_pipeline(session, session_factory, monkeypatch):
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("a psycopg pipeline exists on PostgreSQL only; the PostgreSQL run of .ci/run covers this test")
    driver = session.connection().connection.driver_connection
    pipelines = []
    pipeline = type(driver).pipeline

    def watched(self):
        pipelines.append(self)
        return pipeline(self)

    monkeypatch.setattr(type(driver), "pipeline", watched)
    fastsql.pipeline(session.connection(), [_add(session, "o_p1"), _add(session, "o_p2")], commit=True)
    assert pipelines == [driver] and driver.info.transaction_status.name == "IDLE"  # committed within it
    with session_factory() as other:
        assert {f.openid for f in other.scalars(select(Follower))} == {"o_p1", "o_p2"}
    session.commit()


def test_literal_values_in_a_statement_are_stored_with_their_columns_types(session):
    """A `literal(...)` (e.g. a model default) is processed once when the statement is compiled, and still stored
    as its column's type would store it: a JSON list stays a list."""
    from sqlalchemy import literal

    dialect = session.get_bind().dialect
    statement = fastsql.insert_for(dialect.name)(_follower).values(
        openid=bindparam("openid"), subscribed=True, first_seen_at=bindparam("now"),
        last_interaction_at=bindparam("now"), scene=literal("", _follower.c.scene.type),
        more_pages=literal(["甲", "乙"], _follower.c.more_pages.type))
    for openid in ("o-lit-1", "o-lit-2"):
        fastsql.pipeline(session.connection(), [(statement, {"openid": openid, "now": NOW})])
    rows = fastsql.pipeline(session.connection(), [(_FOLLOWER, {"openid": "o-lit-2"})])[0]
    assert rows == [(NOW, ["甲", "乙"])]
