"""Count the SQL statements an engine runs, to prove a page's query count does not grow with its rows."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import event
from sqlalchemy.engine import Engine


class Counter:
    def __init__(self) -> None:
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return len(self.statements)


@contextmanager
def counting(engine: Engine) -> Iterator[Counter]:
    """Every statement `engine` executes inside the block (SAVEPOINTs and the like included)."""
    counter = Counter()

    def before(conn, cursor, statement, parameters, context, executemany):
        counter.statements.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield counter
    finally:
        event.remove(engine, "before_cursor_execute", before)


def app_engine(app) -> Engine:
    return app.extensions["qijin"].engine
