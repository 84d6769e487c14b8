"""WSGI entry point (`gunicorn wsgi:app`); run directly for the all-in-one development server.

Served by a WSGI server, the app refuses to start (one line on stderr, exit status 4, which gunicorn takes as "App
failed to load" and stops instead of restarting workers) on a database whose schema is behind: run
`flask --app wsgi bootstrap` first. `python wsgi.py` upgrades the schema itself; `flask --app wsgi …` commands load
the app without the check, so that `bootstrap` and `upgrade-db` can run.

Only the development server (`python wsgi.py`, this module run as `__main__`) serves the simulator by default;
imported by gunicorn or `flask --app wsgi`, it serves it only when SIMULATOR_ENABLED asks (never in production).
"""
from __future__ import annotations

import gc
import os
import sys
from typing import NoReturn

from service import create_app
from service.bootstrap import StartupRefused, require_current_schema
from service.core.config import Settings, SettingsError

APP_LOAD_ERROR = 4  # gunicorn's exit status for an app that cannot load: the arbiter halts
REFUSALS = (SettingsError, StartupRefused)


def refuse(exc: Exception, status: int = 1) -> NoReturn:
    """One line on stderr instead of a traceback."""
    print(f"cannot start: {exc}", file=sys.stderr)
    raise SystemExit(status)


def _served() -> bool:
    """Imported by a WSGI server, not run as a script nor loaded by the `flask` command line."""
    return __name__ != "__main__" and os.environ.get("FLASK_RUN_FROM_CLI") != "true"


try:
    app = create_app(Settings.from_env(dev_server=__name__ == "__main__"))
    if _served():
        require_current_schema(app.extensions["qijin"].engine)
except REFUSALS as exc:
    refuse(exc, APP_LOAD_ERROR)
# Everything built so far lives as long as the process: move it out of the garbage collector's generations, so
# that its collections, which run every few requests, look only at what requests allocate.
gc.freeze()


def main() -> None:
    """Development: upgrade the schema, load defaults, run the scheduler in the background, serve on 127.0.0.1."""
    from service.app import runtime
    from service.bootstrap import bootstrap

    with app.app_context():
        rt = runtime()
        try:
            for line in bootstrap(rt.engine, rt.session_factory, rt.settings):
                app.logger.info(line)
        except REFUSALS as exc:
            refuse(exc)
        simulator = rt.settings.simulator_enabled
        if rt.settings.scheduler_in_web:  # development: the scheduler's jobs run inside this process
            from scheduler import build_scheduler

            build_scheduler(rt.settings, blocking=False).start()
            app.logger.info("background scheduler started (SCHEDULER_IN_WEB=0 to run `python -m scheduler` instead)")
    port = int(os.environ.get("PORT", "5000"))
    if simulator:
        app.logger.info("try the account in a browser: http://127.0.0.1:%d/simulator", port)
    from handlers.wechat import RequestLogWithoutWeChatQuery

    app.run(host="127.0.0.1", port=port, threaded=True, use_reloader=False,
            request_handler=RequestLogWithoutWeChatQuery)


if __name__ == "__main__":
    main()
