"""`python -m scheduler`: run the jobs in this process (BlockingScheduler, Asia/Shanghai) until interrupted."""
from __future__ import annotations

import logging

from scheduler import build_scheduler
from service.core.config import Settings
from service.core.logs import configure_logging
from service.core.redact import install_log_redaction


def main() -> None:
    configure_logging("%(asctime)s %(levelname)s %(process)d %(name)s: %(message)s")
    install_log_redaction()
    scheduler = build_scheduler(Settings.from_env(), blocking=True)
    logging.getLogger(__name__).info("scheduler starting; jobs: %s",
                                     ", ".join(spec.id for spec in scheduler.get_jobs()))
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass


if __name__ == "__main__":
    main()
