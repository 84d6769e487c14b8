"""Dashboard (administrators): this month's and year's reports as charts, district targets, lagging units and
this week's unanswered questions and residents' messages; all figures come from `service.console.dashboard`. The
lagging units shown are the furthest behind; the compliance page (督查考核) lists every unit."""
from __future__ import annotations

from handlers.admin import admin_required, bp, render
from service.app import db, runtime
from service.console import dashboard as dashboard_service
from service.core import clock
from service.messages.labels import RATING_LABELS


@bp.get("/dashboard")
@admin_required
def dashboard():
    board = dashboard_service.build(db(), clock.now(), runtime().settings.compliance_quarter_min,
                                    cache=runtime().compliance_cache)
    return render("dashboard.html", board=board, rating_labels=RATING_LABELS)
