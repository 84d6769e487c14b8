"""Residents' messages console benchmark: the inbox and a thread's page with many threads and a large message log.

Seeds N threads (two entries each, 5 threads per resident, a quarter of them 反映问题, spread over 180 days: those of
the last 14 days in every status, older ones closed but for 2 % left open or replied, so about 2,000 are overdue)
and M logged inbound messages (the residents and as many others, over the same 180 days) in SQL, then times the console's
pages through the app (signed-in administrator, Flask test client: server time, templates included) and prints
p50/p95 per page. Target (issue 15): p50 ≤ 300 ms with 100,000 threads and 1,000,000 messages on PostgreSQL.
Usage: python -m bench.messages_console --database-url postgresql+psycopg://…/benchdb [--threads 100000]
                                        [--messages 1000000] [--runs 30]
The database's tables are dropped and created again: never point it at one that matters.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DAYS = 180
THREADS_PER_RESIDENT = 5

# Set-based seeding (PostgreSQL): one statement per table.
SEED_THREADS = """
INSERT INTO resident_thread (id, receipt, openid, category, status, subject, phone, source, created_at, updated_at,
                             due_at, first_response_at, rating, rating_comment, rated_at)
SELECT g, 'LY' || lpad(g::text, 14, '0'), 'o-res-' || (g % :residents),
       (ARRAY['consult','suggest','help','complaint'])[1 + g % 4], status,
       (ARRAY['小区门口商铺拒租','孩子入学咨询','建议多办民族节日活动','医保报销求助'])[1 + g % 4] || ' ' || g,
       '', 'wechat', t, t, t + interval '48 hours',
       CASE WHEN status IN ('replied', 'closed') THEN t + (g % 40) * interval '1 hour' END,
       CASE WHEN status = 'closed' AND g % 3 = 0 THEN 1 + g % 3 END, '',
       CASE WHEN status = 'closed' AND g % 3 = 0 THEN t + interval '3 days' END
FROM (SELECT g, t, CASE WHEN t > now() - interval '14 days' THEN (ARRAY['open','progress','replied','closed'])[1 + g % 4]
                        WHEN g % 50 = 0 THEN 'open' WHEN g % 50 = 1 THEN 'replied' ELSE 'closed' END AS status
      FROM (SELECT g, now() - (g::float / :threads) * interval '180 days' AS t
            FROM generate_series(1, :threads) g) a) s
"""
SEED_ENTRIES = """
INSERT INTO thread_entry (thread_id, kind, body, photos, created_at, delivery_error, attempts, delivery, channel)
SELECT id, 'resident', subject, '[]'::json, created_at, '', 0, NULL, NULL FROM resident_thread
UNION ALL
SELECT id, 'reply', '已转社区处理，请留意电话。', '[]'::json, first_response_at, '', 1, 'sent', 'cs'
FROM resident_thread WHERE first_response_at IS NOT NULL
"""
SEED_LOG = """
INSERT INTO inbound_message (dedupe_key, openid, msg_type, event_key, content, media_id, raw_xml, received_at, status)
SELECT 'bench-' || g, 'o-res-' || (g % (:residents * 2)), 'text', '', '请问' || g, '', '<xml/>',
       now() - (g::float / :messages) * interval '180 days', 'done'
FROM generate_series(1, :messages) g
"""


def timed(client, path: str, runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        response = client.get(path)
        samples.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="a PostgreSQL database to fill (dropped first)")
    parser.add_argument("--threads", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()

    from sqlalchemy import text

    import models  # noqa: F401  (complete metadata)
    from models.base import Base
    from service import create_app
    from service.console import accounts
    from service.core.config import Settings
    from service.core.db import make_engine
    from tests.console import Console

    engine = make_engine(args.database_url)
    if engine.dialect.name != "postgresql":
        sys.exit("the benchmark seeds with PostgreSQL's generate_series: give a postgresql+psycopg:// URL")
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    residents = max(args.threads // THREADS_PER_RESIDENT, 1)
    t0 = time.perf_counter()
    with engine.begin() as conn:
        values = {"threads": args.threads, "messages": args.messages, "residents": residents}
        for statement in (SEED_THREADS, SEED_ENTRIES, SEED_LOG):
            conn.execute(text(statement), values)
        conn.exec_driver_sql("SELECT setval(pg_get_serial_sequence('resident_thread', 'id'), "
                             "(SELECT max(id) FROM resident_thread))")
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
    seeded = time.perf_counter() - t0

    app = create_app(Settings(database_url=args.database_url, secret_key="bench", wechat_token="bench",
                              scheduler_in_web=False))
    with app.app_context():
        factory = app.extensions["qijin"].session_factory
        with factory() as session:
            accounts.create_admin(session, "bench", "bench-password-1")
            session.commit()
    console = Console(app.test_client())
    assert console.login("bench", "bench-password-1").status_code == 302

    rng = random.Random(15)
    pages = {
        "inbox (all)": "/admin/messages",
        "inbox 待处理": "/admin/messages?status=open",
        "inbox 超期": "/admin/messages?overdue=1",
        "inbox 反映问题 page 50": "/admin/messages?category=complaint&page=50",
        "inbox text search": "/admin/messages?q=%E6%8B%92%E7%A7%9F",
        "inbox date range": "/admin/messages?date_from=2026-01-01&date_to=2026-12-31",
    }
    print(f"database        {engine.dialect.name}, {args.threads} threads, {args.messages} logged messages "
          f"(seeded in {seeded:.0f} s)")
    print(f"{'page':<26} {'p50 ms':>8} {'p95 ms':>8}")
    for name, path in pages.items():
        timed(console, path, 2)  # warm
        samples = timed(console, path, args.runs)
        print(f"{name:<26} {statistics.median(samples):8.1f} {statistics.quantiles(samples, n=20)[18]:8.1f}")
    thread_samples = []
    for _ in range(args.runs):
        thread_samples += timed(console, f"/admin/messages/{rng.randint(1, args.threads)}", 1)
    print(f"{'thread page (random)':<26} {statistics.median(thread_samples):8.1f} "
          f"{statistics.quantiles(thread_samples, n=20)[18]:8.1f}")
    engine.dispose()


if __name__ == "__main__":
    main()
