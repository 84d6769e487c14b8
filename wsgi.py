"""WSGI entry point (`gunicorn wsgi:app`); run directly for the all-in-one development server.

Only the development server (`python wsgi.py`, this module run as `__main__`) serves the simulator by default;
imported by gunicorn or `flask --app wsgi`, it serves it only when SIMULATOR_ENABLED asks (never in production).
"""
from __future__ import annotations

import gc
import os

from service import create_app
from service.core.config import Settings, SettingsError

try:
    app = create_app(Settings.from_env(dev_server=__name__ == "__main__"))
except SettingsError as exc:  # one clear line instead of a traceback
    raise SystemExit(f"configuration error: {exc}") from None
# Everything built so far lives as long as the process: move it out of the garbage collector's generations, so
# that its collections, which run every few requests, look only at what requests allocate.
gc.freeze()


def main() -> None:
    """Development: upgrade the schema, load defaults, run the scheduler in the background, serve on 127.0.0.1."""
    from service.app import runtime
    from service.bootstrap import bootstrap

    with app.app_context():
        rt = runtime()
        for line in bootstrap(rt.engine, rt.session_factory, rt.settings):
            app.logger.info(line)
        simulator = rt.settings.simulator_enabled
        if rt.settings.scheduler_in_web:  # development: the scheduler's jobs run inside this process
            from scheduler import build_scheduler

            build_scheduler(rt.settings, blocking=False).start()
            app.logger.info("background scheduler started (SCHEDULER_IN_WEB=0 to run `python -m scheduler` instead)")
    port = int(os.environ.get("PORT", "5000"))
    if simulator:
        app.logger.info("try the account in a browser: http://127.0.0.1:%d/simulator", port)
    app.run(host="127.0.0.1", port=port, threaded=True, use_reloader=False)


if __name__ == "__main__":
    main()
