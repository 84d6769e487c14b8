"""Flask blueprints: the WeChat endpoint, health, the simulator, the JSON API and the admin console.

Each package builds its blueprint at import time (routes attached by its modules); registering is all that is left.
"""
from __future__ import annotations

from flask import Flask

from handlers import admin, api, health, simulator, wechat


def register_blueprints(app: Flask) -> None:
    app.register_blueprint(wechat.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(admin.bp)  # also sets up CSRF and the session lifetime (admin.set_up_app)
    if app.extensions["qijin"].settings.simulator_enabled:  # development only: 404 in production
        app.register_blueprint(simulator.bp)
