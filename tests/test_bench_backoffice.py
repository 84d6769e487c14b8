"""The back-office benchmark seeds, times and runs the jobs through the same code on a tiny SQLite database, so it
cannot rot between the times someone runs it at city scale."""
from __future__ import annotations

from sqlalchemy import func, select

from bench import backoffice
from models.inbound import InboundMessage
from models.message import ResidentThread, ThreadEntry
from models.report import STATUS_APPROVED, STATUS_PENDING, STATUS_REJECTED, ActivityReport
from models.unit import CATEGORIES, Unit
from service.core.db import make_engine, make_session_factory


def test_seed_time_and_jobs_on_a_tiny_database(tmp_path):
    url = f"sqlite:///{tmp_path}/bench.db"
    lines: list[str] = []
    counts = backoffice.seed(url, reports=300, scale=0.004, out=lines.append)
    assert counts["activity_report"] == 300 and counts["unit"] == 6 and counts["follower"] == 400
    assert counts["inbound_message"] == 4_000 and counts["resident_thread"] == 400
    assert lines[-1].startswith("seeded sqlite in ")

    engine = make_engine(url)
    with make_session_factory(engine)() as s:
        assert set(s.scalars(select(Unit.category))) <= set(CATEGORIES)
        statuses = dict(s.execute(select(ActivityReport.status, func.count()).group_by(ActivityReport.status)).all())
        assert set(statuses) == {STATUS_PENDING, STATUS_APPROVED, STATUS_REJECTED}
        assert s.scalar(select(func.count()).select_from(ActivityReport).where(
            ActivityReport.status != STATUS_PENDING, ActivityReport.reviewed_at.is_(None))) == 0

    results = backoffice.time_reads(url, rounds=1, out=lines.append)
    answered = [t for t in results if t.note != "n/a"]
    assert len(answered) >= 25
    assert {t.read.name: t.status for t in answered if t.status != 200} == {}
    assert all(t.queries > 0 and t.size > 0 and t.seconds for t in answered)
    assert all(t.rss_growth_mb is not None for t in answered if t.read.stream)

    with make_session_factory(engine)() as s:
        threads = s.scalar(select(func.count()).select_from(ResidentThread))
        entries = s.scalar(select(func.count()).select_from(ThreadEntry))
    figures = backoffice.time_jobs(url, expired=12_000, out=lines.append)
    assert figures["purged"] == 12_000 and figures["purge longest batch"] < 1.0
    with make_session_factory(engine)() as s:
        assert s.scalar(select(func.count()).select_from(InboundMessage)) == 4_000
        assert s.scalar(select(func.count()).select_from(ResidentThread)) == threads
        assert s.scalar(select(func.count()).select_from(ThreadEntry)) == entries
    engine.dispose()
