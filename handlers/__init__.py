"""Flask blueprints: the WeChat endpoint, health, the simulator, the JSON API and the admin console."""
from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from handlers import admin, api, health, wechat

    app.register_blueprint(wechat.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(api.load_routes())
    app.register_blueprint(admin.init_app(app))
    if app.extensions["qijin"].settings.simulator_enabled:  # development only: 404 in production
        from handlers import simulator

        app.register_blueprint(simulator.bp)
