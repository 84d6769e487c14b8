"""Throughput and latency of the /wechat `帮助` path under gunicorn, against a bare Flask endpoint.

    python -m bench.gateway [--seconds 10] [--warmup 2] [--connections 16] [--users 1000] [--runs 1]
                            [--no-postgres] [--no-sqlite]

Starts `gunicorn -w 2` (sync workers) three times — the real app on a fresh SQLite file, the real app on a fresh
PostgreSQL database (`bench_gateway`, dropped and re-created), and bench/bare_app.py — and loads each with signed
plain-mode text messages `帮助`: unique MsgIds, `--users` distinct openids, `--connections` concurrent clients.
Prints req/s, p50 and p99 for each and the ratio to the bare endpoint; with --runs N, the median ratio over N
rounds too (the bare figure alone varies by 10-15 % between runs here); writes the figures to bench/out/.

The client sends pre-built requests over raw sockets (gunicorn's sync workers close each connection, so every
request is a new connection for all targets alike) and reports its own CPU use so one can see it is not the limit.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Optional

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-token"
PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PG_DB = "bench_gateway"
sys.path.insert(0, str(ROOT))

from service.wechat.protocol import sign  # noqa: E402


@dataclass
class Result:
    name: str
    requests: int
    errors: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    client_cpu_pct: float  # of one core, user+system, for the measured window
    server_cpu_ms: float = 0.0  # gunicorn workers' CPU per request (user+system)
    db_cpu_ms: float = 0.0  # PostgreSQL's CPU per request: backends and WAL writer etc. (0 for SQLite: in the workers)
    stored_rows: Optional[int] = None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Messages:
    """Signed `帮助` POSTs with unique MsgIds and nonces (a nonce is refused once used with another body) from
    `users` openids; thread-safe (itertools.count under the GIL)."""

    def __init__(self, port: int, users: int):
        self.timestamp = str(int(time.time()))
        self.host = f"127.0.0.1:{port}"
        self.users = users
        self.counter = itertools.count()
        self.base_id = int(time.time() * 1000) * 1000
        self.created = int(time.time())

    def next(self) -> bytes:
        i = next(self.counter)
        body = (f"<xml><ToUserName><![CDATA[gh_bench]]></ToUserName><FromUserName><![CDATA[o_bench_{i % self.users:05d}]]>"
                f"</FromUserName><CreateTime>{self.created}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
                f"<Content><![CDATA[帮助]]></Content><MsgId>{self.base_id + i}</MsgId></xml>").encode()
        nonce = str(self.base_id + i)
        path = (f"/wechat?signature={sign(TOKEN, self.timestamp, nonce)}&timestamp={self.timestamp}&nonce={nonce}"
                "&openid=")
        head = (f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: text/xml\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
        return head + body


def request(port: int, payload: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(payload)
        chunks = []
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """utime+stime of these processes, from /proc (processes that are gone count 0)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / TICK


def postgres_processes(admin_url: str, database: str) -> list[int]:
    """Server processes serving `database`, and the server's own (WAL writer, checkpointer, autovacuum...): the
    WAL writer, woken by almost every asynchronous commit, costs about a sixth as much as the backends here."""
    from sqlalchemy import create_engine, text

    engine = create_engine(admin_url)
    with engine.connect() as conn:
        pids = list(conn.execute(text("select pid from pg_stat_activity"
                                      " where datname = :db or backend_type <> 'client backend'"),
                                 {"db": database}).scalars())
    engine.dispose()
    return pids


def load(name: str, port: int, expect: bytes, seconds: float, warmup: float, connections: int, users: int,
         workers: Callable[[], list[int]] = list, db_processes: Callable[[], list[int]] = list) -> Result:
    messages = Messages(port, users)
    latencies: list[list[float]] = [[] for _ in range(connections)]
    errors = [0] * connections
    phase = {"measure": False, "stop": False}

    def worker(n: int) -> None:
        mine = latencies[n]
        while not phase["stop"]:
            payload = messages.next()
            start = time.perf_counter()
            try:
                response = request(port, payload)
                ok = response.startswith(b"HTTP/1.1 200") and expect in response
            except OSError:
                ok = False
            elapsed = time.perf_counter() - start
            if phase["measure"] and not phase["stop"]:
                if ok:
                    mine.append(elapsed)
                else:
                    errors[n] += 1

    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(connections)]
    for t in threads:
        t.start()
    time.sleep(warmup)
    server_pids, db_pids = workers(), db_processes()
    server0, db0 = cpu_seconds(server_pids), cpu_seconds(db_pids)
    # processes that appear during the window (a respawned worker, a new connection) count from zero
    cpu0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    phase["measure"] = True
    time.sleep(seconds)
    phase["stop"] = True
    t1, cpu1 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
    late_server = [pid for pid in workers() if pid not in server_pids]
    late_db = [pid for pid in db_processes() if pid not in db_pids]
    server_cpu = cpu_seconds(server_pids) - server0 + cpu_seconds(late_server)
    db_cpu = cpu_seconds(db_pids) - db0 + cpu_seconds(late_db)
    if late_server or late_db:
        print(f"{name}: {len(late_server)} workers and {len(late_db)} database processes started while measuring",
              file=sys.stderr)
    for t in threads:
        t.join(timeout=30)
    samples = sorted(x for per in latencies for x in per)
    duration = t1 - t0
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)

    def pct(q: float) -> float:
        return samples[min(len(samples) - 1, int(q * len(samples)))] * 1000 if samples else float("nan")

    return Result(name, len(samples), sum(errors), round(duration, 2), round(len(samples) / duration, 1),
                  round(pct(0.50), 2), round(pct(0.99), 2), round(100 * cpu / duration, 1),
                  round(1000 * server_cpu / max(1, len(samples)), 3), round(1000 * db_cpu / max(1, len(samples)), 3))


class Gunicorn:
    """`gunicorn -w 2` on a free port; stopped (by its own pid) on exit."""

    def __init__(self, app: str, env: dict[str, str], workers: int = 2):
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{self.port}", "--chdir", str(ROOT),
             "--log-level", "warning", app],
            env=env, cwd=ROOT)

    def __enter__(self) -> "Gunicorn":
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                time.sleep(1.0)  # let both workers finish importing the app
                return self
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"gunicorn exited with {self.proc.returncode}")
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not start listening in 30 s")

    def workers(self) -> list[int]:
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        return [int(pid) for pid in children]

    def __exit__(self, *exc) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def app_env(database_url: str) -> dict[str, str]:
    env = dict(os.environ, DATABASE_URL=database_url, WECHAT_TOKEN=TOKEN, WECHAT_AES_KEY="", PYTHONPATH=str(ROOT))
    env.pop("FLASK_ENV", None)
    return env


def upgrade(env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "upgrade-db"], env=env, cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)


def count_rows(database_url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    with engine.connect() as conn:
        rows = conn.execute(text("select count(*) from inbound_message")).scalar_one()
    engine.dispose()
    return rows


def fresh_postgres(admin_url: str) -> str:
    from sqlalchemy import create_engine, text

    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{PG_DB}"'))
    engine.dispose()
    return admin_url.rsplit("/", 1)[0] + "/" + PG_DB


def one_round(args: argparse.Namespace) -> list[Result]:
    """The bare endpoint, then the gateway on SQLite and on PostgreSQL, each under a fresh gunicorn."""
    from service.chat.texts import MENU_TITLE

    run = dict(seconds=args.seconds, warmup=args.warmup, connections=args.connections, users=args.users)
    results: list[Result] = []
    with Gunicorn("bench.bare_app:app", app_env("sqlite://")) as server:
        results.append(load("bare flask", server.port, b"success", workers=server.workers, **run))

    with tempfile.TemporaryDirectory() as tmp:
        databases = [] if args.no_sqlite else [("gateway sqlite", f"sqlite:///{tmp}/bench.db")]
        if not args.no_postgres:
            databases.append(("gateway postgres", fresh_postgres(args.pg_admin_url)))
        for name, url in databases:
            env = app_env(url)
            upgrade(env)
            with Gunicorn("wsgi:app", env) as server:
                processes = (lambda: postgres_processes(args.pg_admin_url, PG_DB)) if url.startswith("postgresql") else list
                result = load(name, server.port, MENU_TITLE.encode(), workers=server.workers, db_processes=processes, **run)
            result.stored_rows = count_rows(url)
            results.append(result)
    return results


def print_round(results: list[Result]) -> None:
    bare = results[0].rps
    print(f"\n{'target':<18}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'ratio':>7}{'errors':>7}{'client cpu':>11}"
          f"{'app cpu/req':>12}{'db cpu/req':>11}{'rows':>8}")
    for r in results:
        print(f"{r.name:<18}{r.rps:>9.1f}{r.p50_ms:>9.2f}{r.p99_ms:>9.2f}{r.rps / bare:>7.2f}{r.errors:>7}"
              f"{r.client_cpu_pct:>10.0f}%{r.server_cpu_ms:>9.2f} ms{r.db_cpu_ms:>8.2f} ms"
              f"{'' if r.stored_rows is None else r.stored_rows:>8}")
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (other processes skew the figures)")


def print_summary(rounds: list[list[Result]]) -> None:
    """Across rounds: each target's ratio to the bare endpoint of the same round (median and range), worst p99."""
    print(f"\nover {len(rounds)} rounds")
    print(f"{'target':<28}{'median ratio':>14}{'range':>14}{'worst p99 ms':>14}")
    for i, name in enumerate(r.name for r in rounds[0]):
        ratios = [round_[i].rps / round_[0].rps for round_ in rounds]
        print(f"{name:<28}{statistics.median(ratios):>14.2f}{f'{min(ratios):.2f}–{max(ratios):.2f}':>14}"
              f"{max(round_[i].p99_ms for round_ in rounds):>14.2f}")


def main(argv: Optional[list[str]] = None) -> list[list[Result]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=1, help="repeat all targets this many times (the machine is noisy)")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--pg-admin-url", default=os.environ.get("BENCH_PG_ADMIN_URL", PG_ADMIN_URL))
    args = parser.parse_args(argv)

    rounds = []
    for _ in range(max(1, args.runs)):
        rounds.append(one_round(args))
        print_round(rounds[-1])
    if len(rounds) > 1:
        print_summary(rounds)
    print(f"targets: ratio >= 0.50 and p99 <= 25 ms ({os.cpu_count()} CPUs, {args.connections} connections, "
          f"{args.users} users, {args.seconds:g} s after {args.warmup:g} s warm-up)")
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "gateway.json").write_text(json.dumps([[asdict(r) for r in round_] for round_ in rounds], indent=2))
    return rounds


if __name__ == "__main__":
    main()
