"""Photo downloads when the cause of a failure is on our side (MEDIA_DIR not writable): logged every time, retried
with backoff until WeChat drops the media (3 days after receipt), shown on the report page, never half-written."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import select

from models.report import ReportPhoto
from service.core import clock
from service.core.clock import TZ
from service.core.db import session_scope
from service.reporting import media
from tests.factories import make_report, make_staff, make_unit

NOW = datetime(2026, 4, 10, 9, 30, tzinfo=TZ)


class WeChatMedia:
    def __init__(self):
        self.calls = []

    def download_media(self, media_id: str) -> bytes:
        self.calls.append(media_id)
        return b"\xff\xd8\xff\xe0" + media_id.encode()


def photo_with_report(session_factory) -> tuple[int, int]:
    with session_scope(session_factory) as s:
        report = make_report(s, make_staff(s, make_unit(s), openid="o-staff", now=NOW))
        photo = ReportPhoto(report_id=report.id, openid="o-staff", media_id="m-1",
                            received_at=NOW.astimezone(timezone.utc))
        s.add(photo)
        s.flush()
        return report.id, photo.id


def download(session_factory, client, media_dir, now):
    with session_scope(session_factory) as s:
        return media.download_pending(s, client, str(media_dir), now)


def test_unwritable_media_dir_is_logged_retried_shown_and_recovers(session_factory, tmp_path, admin_console,
                                                                   caplog):
    clock.set_now(lambda: NOW)
    report_id, photo_id = photo_with_report(session_factory)
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the media folder should be")
    broken_dir = blocker / "media"  # mkdir below a file fails, as an unwritable MEDIA_DIR does
    wechat = WeChatMedia()

    now = NOW
    with caplog.at_level(logging.WARNING, logger="service.reporting.media"):
        for _ in range(8):  # more than the old limit of 5, over about 10 hours
            assert download(session_factory, wechat, broken_dir, now).retrying == 1
            assert download(session_factory, wechat, broken_dir, now).retrying == 0  # backoff: not again at once
            now += timedelta(hours=2)
    assert len(wechat.calls) == 8
    assert len([r for r in caplog.records if "photo" in r.getMessage() and "download failed" in r.getMessage()]) == 8
    with session_scope(session_factory) as s:
        photo = s.get(ReportPhoto, photo_id)
        assert (photo.download_status, photo.attempts) == ("pending", 8)
        assert "NotADirectoryError" in photo.last_error or "FileExistsError" in photo.last_error

    page = admin_console.get(f"/admin/reports/{report_id}").get_data(as_text=True)
    assert "已尝试 8 次" in page and "会继续重试" in page

    fixed_dir = tmp_path / "media"  # the operator fixes MEDIA_DIR: the next due try stores the photo
    assert download(session_factory, wechat, fixed_dir, now).done == 1
    with session_scope(session_factory) as s:
        photo = s.get(ReportPhoto, photo_id)
        assert photo.download_status == "done" and photo.last_error == ""
        stored = fixed_dir / photo.local_path
        assert stored.read_bytes() == b"\xff\xd8\xff\xe0m-1"
    assert [p.name for p in stored.parent.iterdir()] == [stored.name]  # no temporary file left behind


def test_a_photo_fails_for_good_only_when_wechat_no_longer_keeps_it(session_factory, tmp_path, admin_console):
    clock.set_now(lambda: NOW)
    report_id, photo_id = photo_with_report(session_factory)
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    wechat = WeChatMedia()
    now, tries = NOW, 0
    while now < NOW + timedelta(days=3) + timedelta(hours=2):
        run = download(session_factory, wechat, blocker / "media", now)
        tries += run.retrying + run.failed
        if run.failed:
            break
        now += timedelta(minutes=30)
    assert run.failed == 1 and now < NOW + timedelta(days=3)
    assert tries > 30  # kept trying over the three days
    with session_scope(session_factory) as s:
        assert s.get(ReportPhoto, photo_id).download_status == "failed"
    page = admin_console.get(f"/admin/reports/{report_id}").get_data(as_text=True)
    assert "下载失败：" in page and ("NotADirectoryError" in page or "FileExistsError" in page)
    assert not list(Path(tmp_path).rglob("*.part"))
