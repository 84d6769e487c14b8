"""The scheduler process: a real `python -m scheduler` killed with SIGKILL mid-send and restarted, two scheduler
processes at once, the job table, and the jobs themselves (reminders, digest, report results, housekeeping)."""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from models.announcement import Announcement, AnnouncementStatus, Delivery, DeliveryStatus
from scheduler import build_scheduler, job_specs
from service.notices import announcements
from service.core import clock
from tests.notice_helpers import add_followers, record_outcomes, successful_calls

ROOT = Path(__file__).resolve().parent.parent
CONCURRENCY = 16


@pytest.fixture
def fake(fake_wechat):
    record_outcomes(fake_wechat)
    return fake_wechat


def start_scheduler(settings, fake, log_path: Path, **env) -> subprocess.Popen:
    environ = {**os.environ, "DATABASE_URL": settings.database_url, "WECHAT_API_BASE": fake.base_url,
               "WECHAT_APPID": settings.wechat_appid, "WECHAT_SECRET": settings.wechat_secret,
               "NOTIFY_LEASE_SECONDS": "2", "SCHEDULER_POLL_SECONDS": "0.3", "NOTIFY_CONCURRENCY": str(CONCURRENCY),
               "NOTIFY_BACKOFF_SECONDS": "0.2", "PYTHONPATH": str(ROOT), **env}
    log = open(log_path, "ab")
    return subprocess.Popen([sys.executable, "-m", "scheduler"], cwd=ROOT, env=environ, stdout=log,
                            stderr=subprocess.STDOUT)


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def status_of(session_factory, ann_id: int) -> str:
    with session_factory() as s:
        return s.get(Announcement, ann_id).status


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def kill_midway_then_finish(session_factory, settings, fake, log: Path, ann_id: int, path: str, calls: int,
                            **env) -> int:
    """Run the scheduler until the fake has `calls` calls to `path`, SIGKILL it, start a fresh one and wait for the
    broadcast to end; returns the number of those calls at the kill."""
    first = start_scheduler(settings, fake, log, **env)
    try:
        wait_for(lambda: len(fake.calls_to(path)) >= calls, 60, f"{calls} calls to {path}")
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
        at_kill = len(fake.calls_to(path))
        second = start_scheduler(settings, fake, log, **env)
        try:
            wait_for(
                lambda: status_of(session_factory, ann_id) in (AnnouncementStatus.SENT, AnnouncementStatus.PARTIAL),
                90,
                "the broadcast to finish",
            )
        finally:
            stop(second)
    finally:
        stop(first)
    return at_kill


def make_broadcast(session, n: int, messaged_ago=timedelta(hours=1)) -> tuple[int, list[str]]:
    openids = [f"o-{i:05d}" for i in range(n)]
    add_followers(session, openids, clock.now(), messaged_ago)
    ann = announcements.create(session, {"title": "全员通知", "body": "请查收。", "audience": {"type": "all"}},
                               clock.now())
    session.commit()
    return ann.id, openids


def test_killed_mid_send_and_restarted_no_recipient_gets_two_messages(session, session_factory, settings, fake,
                                                                      tmp_path):
    fake.latency = 0.02
    # the suite uses 3,000 to stay fast; the documented manual run sets CRASH_RECIPIENTS=10000
    n = int(os.environ.get("CRASH_RECIPIENTS", "3000"))
    ann_id, openids = make_broadcast(session, n)
    at_kill = kill_midway_then_finish(session_factory, settings, fake, tmp_path / "scheduler.log", ann_id,
                                      "message/custom/send", n // 3)
    assert at_kill < n, "the kill came too late to test anything"

    calls = successful_calls(fake)
    with session_factory() as s:
        rows = {d.openid: d for d in s.scalars(select(Delivery).where(Delivery.announcement_id == ann_id))}
    assert len(rows) == n and not [d for d in rows.values() if d.status == DeliveryStatus.IN_FLIGHT]
    assert max(calls.values()) == 1, "someone got the message twice"
    statuses = Counter(d.status for d in rows.values())
    assert set(statuses) <= {DeliveryStatus.SENT, DeliveryStatus.UNKNOWN}
    # every row marked sent got exactly one call; nothing is silently lost: a recipient without a call is 'unknown'
    assert all(calls[o] == 1 for o, d in rows.items() if d.status == DeliveryStatus.SENT)
    assert all(rows[o].status == DeliveryStatus.UNKNOWN for o in openids if calls[o] == 0)
    # the uncertain set is bounded by the calls in flight when the process died
    assert statuses[DeliveryStatus.UNKNOWN] <= CONCURRENCY
    print(f"\ncrash test: {n} recipients, killed after {at_kill} calls; sent {statuses[DeliveryStatus.SENT]}, "
          f"unknown {statuses[DeliveryStatus.UNKNOWN]} (of which received by WeChat: "
          f"{sum(1 for o, d in rows.items() if d.status == DeliveryStatus.UNKNOWN and calls[o])}), duplicates 0")


def test_killed_during_a_mass_send_chunk_every_recipient_gets_exactly_one(session, session_factory, settings, fake,
                                                                          tmp_path):
    n = 10_001  # two mass chunks (5,000 + 5,001): the limit per call is 10,000
    fake.inject("message/mass/send", latency=1.5, times=None)
    ann_id, openids = make_broadcast(session, n, messaged_ago=timedelta(days=5))
    # killed once the first mass call is made: the answer to that chunk is never read
    kill_midway_then_finish(session_factory, settings, fake, tmp_path / "scheduler.log", ann_id, "message/mass/send", 1,
                            WECHAT_MASS_SEND_ALL="1")
    calls = successful_calls(fake)
    assert calls == {o: 1 for o in openids}
    mass = fake.calls_to("message/mass/send")
    assert len({c.json["clientmsgid"] for c in mass}) == 2
    assert any(c.errcode == 45065 for c in mass)  # the resent chunk was recognised by its clientmsgid
    assert status_of(session_factory, ann_id) == AnnouncementStatus.SENT


def test_two_scheduler_processes_do_not_double_send(session, session_factory, settings, fake, tmp_path):
    fake.latency = 0.01
    n = 1500
    ann_id, openids = make_broadcast(session, n)
    procs = [start_scheduler(settings, fake, tmp_path / f"scheduler{i}.log") for i in range(2)]
    try:
        wait_for(
            lambda: status_of(session_factory, ann_id) in (AnnouncementStatus.SENT, AnnouncementStatus.PARTIAL),
            90,
            "the broadcast to finish",
        )
    finally:
        for p in procs:
            stop(p)
    assert successful_calls(fake) == {o: 1 for o in openids}
    assert len(fake.calls_to("message/custom/send")) == n
    with session_factory() as s:
        workers = {d.claimed_by.rsplit(":", 1)[0] for d in s.scalars(select(Delivery))}
    assert status_of(session_factory, ann_id) == AnnouncementStatus.SENT
    assert len(workers) == 2, "both processes should have taken part"


def test_jobs_have_explicit_ids_and_coalesce(settings):
    scheduler = build_scheduler(settings)
    ids = {j.id for j in scheduler.get_jobs()}
    assert ids == {spec.id for spec in job_specs(settings)}
    assert {"deliver_announcements", "deliver_replies", "monthly_compliance_reminders", "quarter_end_warning",
            "weekly_digest", "purge_conversation_drafts", "trim_message_log", "download_report_media"} == ids
    monthly = next(s for s in job_specs(settings) if s.id == "monthly_compliance_reminders").trigger
    first = monthly.get_next_fire_time(None, datetime(2025, 3, 5, tzinfo=clock.TZ))
    assert first == datetime(2025, 4, 1, 9, 0, tzinfo=clock.TZ)
    assert scheduler._job_defaults["coalesce"] is True
    assert scheduler._job_defaults["misfire_grace_time"] == settings.scheduler_misfire_grace


def _failing_job() -> None:
    raise RuntimeError("boom")


def test_job_runs_are_quiet_but_failures_are_logged(settings, caplog):
    """The 5-second delivery job must not write two log lines a run; a failing job must still be logged."""
    scheduler = build_scheduler(settings)
    scheduler.add_job(_failing_job, id="failing", next_run_time=clock.now())
    caplog.set_level(logging.INFO)
    scheduler.start()
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any(r.levelno >= logging.ERROR for r in caplog.records):
            time.sleep(0.05)
    finally:
        scheduler.shutdown()
    executor = [r for r in caplog.records if r.name.startswith("apscheduler.executors")]
    assert [r.levelname for r in executor] == ["ERROR"] and "failing" in executor[0].getMessage()


def _working_job() -> None:
    pass


def test_each_jobs_last_run_and_outcome_is_recorded(settings, session):
    """The console's 设置与状态 page reads `job_run`: a working and a failing job each leave their outcome there."""
    from models.status import JobRun

    scheduler = build_scheduler(settings)
    scheduler.add_job(_failing_job, id="failing", next_run_time=clock.now())
    scheduler.add_job(_working_job, id="working", next_run_time=clock.now())
    scheduler.start()
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            session.expire_all()
            if session.get(JobRun, "failing") and session.get(JobRun, "working"):
                break
            time.sleep(0.05)
    finally:
        scheduler.shutdown()
    session.expire_all()
    failing, working = session.get(JobRun, "failing"), session.get(JobRun, "working")
    assert not failing.ok and failing.detail == "RuntimeError: boom" and failing.last_ok_at is None
    assert working.ok and working.detail == "" and working.last_ok_at is not None
