"""Fixtures: settings → engine → session (a throwaway SQLite file, or TEST_DATABASE_URL for PostgreSQL)."""
from __future__ import annotations

import os

import pytest

import models  # noqa: F401  (complete metadata)
from models.base import Base
from service.core import clock
from service.core.config import Settings
from service.core.db import make_engine, make_session_factory
from service.wechat_api.token_store import make_token_store
from service.wechat_api.client import make_client
from tests.fake_wechat_api import FakeWeChatAPI

# Console fixtures (signed-in test clients) and the browser harness (live server, headless Chromium).
pytest_plugins = ["tests.console", "tests.browser"]


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def engine(database_url):
    engine = make_engine(database_url)
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


# Children before parents, so each DELETE satisfies the foreign keys.
_TABLES = [table.name for table in reversed(Base.metadata.sorted_tables)]
# Sequences a test drew from go back to 1, as TRUNCATE ... RESTART IDENTITY did (untouched ones read NULL here).
_RESTART_USED_SEQUENCES = (
    "SELECT setval(quote_ident(schemaname) || '.' || quote_ident(sequencename), 1, false) FROM pg_sequences "
    "WHERE schemaname = current_schema() AND last_value IS NOT NULL")


def _wipe(engine) -> None:
    """Empty every table before a test, in one transaction.

    PostgreSQL gets plain DELETEs (one round trip) rather than TRUNCATE: TRUNCATE swaps every table's and index's
    files and cost about 65 ms a test for these few rows; DELETE on small or empty tables costs one or two.
    """
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("; ".join([*(f'DELETE FROM "{t}"' for t in _TABLES), _RESTART_USED_SEQUENCES]))
        else:
            for table in _TABLES:
                conn.exec_driver_sql(f'DELETE FROM "{table}"')


@pytest.fixture
def session_factory(engine):
    _wipe(engine)
    return make_session_factory(engine)


@pytest.fixture
def session(session_factory):
    s = session_factory()
    yield s
    s.rollback()
    s.close()


@pytest.fixture(autouse=True)
def _real_clock():
    yield
    clock.set_now(None)


@pytest.fixture(scope="session")
def _fake_wechat_server():
    fake = FakeWeChatAPI().start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_wechat(_fake_wechat_server) -> FakeWeChatAPI:
    """The fake WeChat API (one server per run), reset to a fresh account for each test."""
    _fake_wechat_server.reset()
    return _fake_wechat_server


@pytest.fixture
def settings(database_url, tmp_path, fake_wechat) -> Settings:
    return Settings(
        wechat_token="testtoken",
        wechat_appid="wxb11529c136998cb6",
        wechat_secret="testsecret",
        wechat_api_base=fake_wechat.base_url,
        database_url=database_url,
        secret_key="test-secret",
        media_dir=str(tmp_path / "media"),
        api_timeout=2.0,
    )


@pytest.fixture
def app(settings, session_factory):
    from service import create_app

    app = create_app(settings)
    app.config["TESTING"] = True
    yield app
    app.extensions["qijin"].engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def wechat(client, settings):
    from tests.wechat_xml import WeChatUser

    return WeChatUser(client, settings)


@pytest.fixture
def token_store(settings, session_factory):
    return make_token_store(settings, session_factory)


@pytest.fixture
def wechat_client(settings, token_store):
    """The service's WeChat API client, talking to `fake_wechat`, its token cached in the test database."""
    return make_client(settings, token_store)
