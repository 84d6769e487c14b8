"""/admin/: administrators land on the dashboard, reviewers on the review queue."""
from __future__ import annotations

from flask import current_app, redirect, url_for

from handlers.admin import bp, current_admin, login_required, render
from models.admin import ROLE_ADMIN


@bp.get("/")
@login_required
def home():
    user = current_admin()
    for endpoint in (("admin.dashboard",) if user.role == ROLE_ADMIN else ()) + ("admin.reports",):
        if endpoint in current_app.view_functions:
            return redirect(url_for(endpoint))
    return render("home.html")
