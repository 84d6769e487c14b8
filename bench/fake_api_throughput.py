"""How many customer-service sends per second the fake WeChat API sustains with injected latency.

Starts `python -m tests.fake_wechat_api` in its own process (as a benchmark would), then drives it from
`--clients` concurrent keep-alive connections spread over `--processes` client processes, and prints req/s.
Usage: python bench/fake_api_throughput.py [--requests 6400] [--clients 64] [--latency 0.05] [--processes 2]
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def _client_process(base_url: str, threads: int, per_thread: int, start_at: float, out: "mp.Queue[tuple[int, int]]") -> None:
    token = requests.get(base_url + "token", params={"grant_type": "client_credential", "appid": "wxbench",
                                                     "secret": "bench"}, timeout=10).json()["access_token"]
    ok = [0] * threads
    failed = [0] * threads

    def worker(i: int) -> None:
        session = requests.Session()
        for n in range(per_thread):
            body = {"touser": f"o-bench-{i}-{n}", "msgtype": "text", "text": {"content": "压测消息"}}
            try:
                res = session.post(base_url + "message/custom/send", params={"access_token": token}, json=body,
                                   timeout=10)
                if res.status_code == 200 and res.json().get("errcode") == 0:
                    ok[i] += 1
                else:
                    failed[i] += 1
            except requests.RequestException:
                failed[i] += 1

    while time.time() < start_at:
        time.sleep(0.005)
    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    out.put((sum(ok), sum(failed)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=6400)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args()

    server = subprocess.Popen([sys.executable, "-m", "tests.fake_wechat_api", "--port", "0", "--latency",
                               str(args.latency), "--no-record"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline() if server.stdout else ""
        base_url = line.split(" at ", 1)[1].split()[0]
        threads = max(1, args.clients // args.processes)
        per_thread = max(1, args.requests // (threads * args.processes))
        ctx = mp.get_context("spawn")
        out: mp.Queue = ctx.Queue()
        start_at = time.time() + 2.0  # let every client process import and fetch its token first
        procs = [ctx.Process(target=_client_process, args=(base_url, threads, per_thread, start_at, out))
                 for _ in range(args.processes)]
        for p in procs:
            p.start()
        results = [out.get(timeout=600) for _ in procs]
        elapsed = time.time() - start_at
        for p in procs:
            p.join()
        ok = sum(r[0] for r in results)
        failed = sum(r[1] for r in results)
        stats = requests.get(base_url.replace("/cgi-bin/", "/_fake/stats"), timeout=5).json()
        ceiling = f" (ceiling clients/latency = {threads * args.processes / args.latency:.0f} req/s)" if args.latency else ""
        print(f"latency={args.latency * 1000:.0f}ms clients={threads * args.processes} processes={args.processes}")
        print(f"sent={ok} failed={failed} server_counted={stats['counts'].get('message/custom/send', 0)} "
              f"elapsed={elapsed:.2f}s throughput={ok / elapsed:.0f} req/s{ceiling}")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
