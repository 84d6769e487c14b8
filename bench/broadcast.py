"""Broadcast benchmark: N recipients over the per-user (customer-service) channel against the fake WeChat API
with a fixed latency per call, through the same code the scheduler runs (service.notices.delivery.run_once).

Prints deliveries/s, peak RSS of this (sending) process and the duplicate count the fake observed.
Targets (issue 5): ≥ 500 deliveries/s, RSS < 300 MB, 0 duplicates.
Usage: python bench/broadcast.py [--recipients 100000] [--latency 0.05] [--concurrency 64]
                                 [--database-url postgresql+psycopg://…]   (default: a temporary SQLite file)
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta, timezone
from pathlib import Path
from urllib.request import urlopen

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fake_wechat_api import FakeWeChatAPI  # noqa: E402

PATHS = ("message/custom/send", "message/template/send")


class CountingFake(FakeWeChatAPI):
    """Keeps no call log (memory), only successful sends per recipient, to count duplicates."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.per_user: Counter[str] = Counter()

    def handle(self, call):
        status, content_type, body, headers = super().handle(call)
        if call.path in PATHS and status == 200 and json.loads(body).get("errcode", 0) == 0:
            with self._lock:
                self.per_user[(call.json or {}).get("touser")] += 1
        return status, content_type, body, headers

    def control(self, method, path, body):
        if path == "recipients":
            with self._lock:
                return {"recipients": len(self.per_user), "calls": sum(self.per_user.values()),
                        "duplicates": sum(n - 1 for n in self.per_user.values() if n > 1)}
        return super().control(method, path, body)


def serve_fake(port: int, latency: float) -> None:
    fake = CountingFake("127.0.0.1", port, record=False)
    fake.latency = latency
    fake.start()
    print(f"ready {fake.port}", flush=True)
    while True:
        time.sleep(3600)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--serve-fake", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_fake is not None:
        serve_fake(args.serve_fake, args.latency)
        return

    import models  # noqa: F401  (complete metadata)
    from models.base import Base
    from models.follower import Follower
    from service.notices import announcements, delivery as notify
    from service.core import clock
    from service.core.config import Settings
    from service.core.db import make_engine, make_session_factory

    fake_proc = subprocess.Popen([sys.executable, __file__, "--serve-fake", "0", "--latency", str(args.latency)],
                                 stdout=subprocess.PIPE, text=True)
    port = int(fake_proc.stdout.readline().split()[1])
    base = f"http://127.0.0.1:{port}/"
    tmp = tempfile.TemporaryDirectory()
    url = args.database_url or f"sqlite:///{tmp.name}/bench.db"
    try:
        engine = make_engine(url)
        Base.metadata.drop_all(engine)
        Base.metadata.create_all(engine)
        factory = make_session_factory(engine)
        settings = Settings(database_url=url, wechat_appid="wxbench", wechat_secret="bench",
                            wechat_api_base=base + "cgi-bin/", notify_concurrency=args.concurrency, api_timeout=10)
        now = clock.now()
        last = (now - timedelta(hours=1)).astimezone(timezone.utc)
        with factory() as session:
            for start in range(0, args.recipients, 10_000):
                session.execute(Follower.__table__.insert(), [
                    dict(openid=f"o-bench-{i:07d}", subscribed=True, first_seen_at=last, last_interaction_at=last,
                         last_message_at=last, scene="", more_pages=[])
                    for i in range(start, min(start + 10_000, args.recipients))])
            announcements.create(session, {"title": "压测通知", "body": "这是一条压测消息。", "audience": "all"}, now)
            session.commit()
        t0 = time.perf_counter()
        notify.materialize_due(factory, settings, clock.now())
        t1 = time.perf_counter()
        stats = notify.deliver_pending(factory, settings, notify.sender_factory(settings, factory))
        t2 = time.perf_counter()
        with factory() as session:
            notify.finish_completed(session, clock.now())
            session.commit()
        observed = json.load(urlopen(base + "_fake/recipients"))
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"database              {engine.dialect.name}")
        print(f"recipients            {args.recipients}  (latency {args.latency * 1000:.0f} ms/call, "
              f"concurrency {args.concurrency})")
        print(f"planning              {t1 - t0:.1f} s")
        print(f"sending               {t2 - t1:.1f} s, {stats.sent} sent, {stats.retried} retried, "
              f"{stats.failed} failed")
        print(f"deliveries/s          {stats.sent / (t2 - t1):.0f}  (including planning: {stats.sent / (t2 - t0):.0f})")
        print(f"peak RSS              {rss_mb:.0f} MB")
        print(f"fake saw              {observed['recipients']} recipients, {observed['calls']} successful calls")
        print(f"duplicates            {observed['duplicates']}")
    finally:
        fake_proc.kill()
        tmp.cleanup()


if __name__ == "__main__":
    main()
