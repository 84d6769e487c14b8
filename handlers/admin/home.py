"""/admin/: administrators land on the dashboard, reviewers on the review queue, reception on the messages inbox."""
from __future__ import annotations

from flask import current_app, redirect, url_for

from handlers.admin import bp, current_admin, login_required, render
from models.admin import ROLE_ADMIN, ROLE_RECEPTION, ROLE_REVIEWER

# Each role's first page, by preference (a page missing from this app is skipped).
HOME_PAGES = {ROLE_ADMIN: ("admin.dashboard", "admin.reports"), ROLE_REVIEWER: ("admin.reports",),
              ROLE_RECEPTION: ("admin.messages",)}


@bp.get("/")
@login_required
def home():
    for endpoint in HOME_PAGES.get(current_admin().role, ()):
        if endpoint in current_app.view_functions:
            return redirect(url_for(endpoint))
    return render("home.html")
