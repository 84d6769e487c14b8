"""设置与状态 (管理员): is WeChat configured and reachable, the scheduler alive, the menu in sync, the database and
Redis reachable — each green, amber or red with what to do; the checks live in `service.console.status`."""
from __future__ import annotations

from handlers.admin import admin_required, bp, render
from service.app import db, runtime
from service.console import status as status_service
from service.core import clock


@bp.get("/status")
@admin_required
def status():
    rt = runtime()
    report = status_service.build(db(), rt.settings, rt.session_factory, clock.now())
    db().rollback()  # the checks only read
    return render("status.html", status=report, checked_at=clock.now())
