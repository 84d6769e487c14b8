"""Download staff photos from WeChat to local storage before their MediaId expires (3 days after sending).

WeChat's temporary media: https://developers.weixin.qq.com/doc/offiaccount/Asset_Management/Get_temporary_materials.html
The job takes any object with `download_media(media_id) -> bytes` (the WeChat API client in production, a fake
in tests), so it does no HTTP of its own. In development, pictures sent from the simulator never reached WeChat:
they wait in the local uploads folder, and `LocalUploadsFirst` serves them from there.
"""
from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from models.media import ReceivedPhoto
from models.report import ReportPhoto
from service.core.clock import local
from service.core.errors import WeChatAPIError
from service.core.redact import describe

log = logging.getLogger(__name__)

MEDIA_LIFETIME = timedelta(days=3)  # WeChat keeps a user's media this long after receiving it
RETRY_AFTER = timedelta(minutes=5)  # wait after the first failed try; doubles per try up to RETRY_CAP
RETRY_CAP = timedelta(hours=2)
GONE = frozenset({40007})  # invalid media_id: WeChat no longer has it, trying again cannot help

LOCAL_UPLOADS = "simulator"  # under media_dir: pictures the development simulator sent
LOCAL_UPLOAD_ID = re.compile(r"^sim_[0-9a-f]{32}$")  # ids WeChat never issues, checked so no path tricks


class MediaDownloader(Protocol):
    def download_media(self, media_id: str) -> bytes: ...


def store_local_upload(media_dir: str, media_id: str, ext: str, content: bytes) -> Path:
    """Keep a locally sent picture as `<media_dir>/simulator/<media_id>.<ext>`."""
    if not LOCAL_UPLOAD_ID.match(media_id):
        raise ValueError(f"not a local upload id: {media_id!r}")
    folder = Path(media_dir) / LOCAL_UPLOADS
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{media_id}.{ext}"
    path.write_bytes(content)
    return path


def local_upload(media_dir: str, media_id: str) -> Path | None:
    """The stored file of a local upload id, or None."""
    if not LOCAL_UPLOAD_ID.match(media_id or ""):
        return None
    return next((p for p in (Path(media_dir) / LOCAL_UPLOADS).glob(f"{media_id}.*") if p.is_file()), None)


class LocalUploadsFirst:
    """A downloader that serves local uploads (the simulator's pictures) from disk and passes every other media id
    on to `client` (WeChat)."""

    def __init__(self, media_dir: str, client: MediaDownloader):
        self.media_dir, self.client = media_dir, client

    def download_media(self, media_id: str) -> bytes:
        path = local_upload(self.media_dir, media_id)
        return path.read_bytes() if path is not None else self.client.download_media(media_id)


@dataclass
class DownloadRun:
    done: int = 0
    retrying: int = 0
    failed: int = 0


def photo_path(photo: ReceivedPhoto, content: bytes) -> str:
    """Where a photo goes, relative to media_dir: <folder>/<yyyymm>/<id>-<sha1 prefix>.<ext>, the folder its
    model's (photos/ for reports, messages/ for residents' messages)."""
    ext = ".png" if content.startswith(b"\x89PNG") else ".gif" if content.startswith(b"GIF8") else ".jpg"
    month = f"{local(photo.received_at):%Y%m}"
    return f"{photo.MEDIA_FOLDER}/{month}/{photo.id}-{hashlib.sha1(content).hexdigest()[:12]}{ext}"


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failed try: 5 min, 10, 20 … capped at 2 h."""
    return min(RETRY_AFTER * 2 ** max(0, attempts - 1), RETRY_CAP)


def expires_at(photo: ReceivedPhoto) -> datetime:
    return local(photo.received_at) + MEDIA_LIFETIME


def due_photos(session: Session, now: datetime, limit: int = 50, model: Any = ReportPhoto) -> list[Any]:
    """Pending photos (of `model`, a ReceivedPhoto) never tried, or whose backoff after the last try has passed,
    oldest first."""
    stmt = (select(model).where(model.download_status == "pending",
                                or_(model.attempts == 0, model.last_tried_at <= now - RETRY_AFTER))
            .order_by(model.id))
    due = (p for p in session.scalars(stmt)
           if p.attempts == 0 or local(p.last_tried_at) + retry_delay(p.attempts) <= now)
    return [p for _, p in zip(range(limit), due)]


def download_pending(session: Session, client: MediaDownloader, media_dir: str, now: datetime,
                     limit: int = 50, model: Any = ReportPhoto) -> DownloadRun:
    """Fetch due photos (report photos, or those of another ReceivedPhoto model) one by one. COMMITS after each
    photo (a job, not a request): a slow or failing photo must not hold a transaction open or undo the others. Each file is written to a temporary name and renamed,
    so a half-written photo is never shown. Every failure is logged and recorded in `last_error` (shown on the
    report page) and tried again with backoff until WeChat drops the media (MEDIA_LIFETIME after receipt), so a
    cause fixed meanwhile (MEDIA_DIR not writable, WeChat down) costs nothing; only then, or when WeChat says the
    media id is gone (40007), is the photo marked failed.
    """
    run = DownloadRun()
    root = Path(media_dir)
    for photo in due_photos(session, now, limit, model):
        photo.attempts += 1
        photo.last_tried_at = now
        tmp = None
        try:
            content = client.download_media(photo.media_id)
            if not content:
                raise ValueError("empty media")
            relative = photo_path(photo, content)
            target = root / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(target.suffix + ".part")
            tmp.write_bytes(content)
            tmp.replace(target)
        except Exception as exc:  # noqa: BLE001 - any failure is recorded and retried, never fatal to the run
            if tmp is not None:
                tmp.unlink(missing_ok=True)
            photo.last_error = describe(exc, 500)
            gone = isinstance(exc, WeChatAPIError) and exc.errcode in GONE
            if gone or now + retry_delay(photo.attempts) >= expires_at(photo):
                photo.download_status = "failed"
                run.failed += 1
                log.error("photo %s (media %s) failed for good after %s tries (%s): %s", photo.id, photo.media_id,
                          photo.attempts, "WeChat no longer has it" if gone else "the media expires at WeChat",
                          photo.last_error)
            else:
                run.retrying += 1
                log.warning("photo %s (media %s) download failed (try %s, next in %s): %s", photo.id,
                            photo.media_id, photo.attempts, retry_delay(photo.attempts), photo.last_error)
        else:
            photo.local_path = relative
            photo.download_status = "done"
            photo.last_error = ""
            run.done += 1
        session.commit()
    return run
