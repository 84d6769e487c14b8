"""Logging for every process (web, scheduler): one format, and the libraries' routine chatter kept out of INFO.

Alembic announces its migration context on every schema check (each /healthz), APScheduler every job it adds at
start-up and every run of the 5-second delivery job; our own lines say what matters ("schema upgraded",
"background scheduler started", what a job did). Their warnings (missed runs) and errors still show.
"""
from __future__ import annotations

import logging

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
QUIET = {"alembic": logging.WARNING, "apscheduler.scheduler": logging.WARNING, "apscheduler.executors": logging.WARNING}


def configure_logging(fmt: str = FORMAT) -> None:
    logging.basicConfig(level=logging.INFO, format=fmt)
    for name, level in QUIET.items():
        logging.getLogger(name).setLevel(level)
