"""WSGI entry point (`gunicorn wsgi:app`); run directly for the all-in-one development server."""
from __future__ import annotations

import gc
import os

from service import create_app

app = create_app()
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
    from handlers.wechat import RequestLogWithoutWeChatQuery

    app.run(host="127.0.0.1", port=port, threaded=True, use_reloader=False,
            request_handler=RequestLogWithoutWeChatQuery)


if __name__ == "__main__":
    main()
