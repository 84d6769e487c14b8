"""Report search and exports on a seeded database (e.g. the one bench/backoffice.py fills with 300,000 reports).

Search: the console's report list (`list_reports`: count and one page) for each query, median of three runs.
Exports: 100,000-odd reports of a date range as CSV and xlsx, each in a fresh process, with wall and CPU time and
the growth of peak RSS. Targets (issue 16): search p50 ≤ 500 ms; CSV ≤ 5 s, xlsx ≤ 30 s, peak RSS growth < 150 MB.
Usage: python bench/report_search.py DATABASE_URL [--from 2025-01-01] [--to 2025-08-31] [--query 讲座 ...]
"""
from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from service.core.db import make_engine, make_session_factory  # noqa: E402
from service.reporting import exports  # noqa: E402
from service.reporting.query import ReportFilter, list_reports, parse_filters  # noqa: E402

QUERIES = ("讲座", "非遗", "寺院", "征文比赛", "石榴籽", "慰问品", "团结", "火星", "QJ2025061", "团")


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    return 0.0


def search(factory, queries) -> None:
    medians = []
    for q in queries:
        times = []
        for _ in range(3):
            with factory() as session:
                start = time.perf_counter()
                page = list_reports(session, ReportFilter(q=q))
                times.append(time.perf_counter() - start)
        medians.append(statistics.median(times))
        print(f"search {q:14s} {page.total:7d} found  {medians[-1] * 1000:6.0f} ms")
    print(f"search p50 {statistics.median(medians) * 1000:.0f} ms, max {max(medians) * 1000:.0f} ms")


def export(factory, fmt: str, date_from: str, date_to: str) -> None:
    with factory() as session:
        parse_filters(session, {})  # connect and import before the baseline
    baseline, start, cpu = rss_mb(), time.perf_counter(), time.process_time()
    with factory() as session:
        file = exports.export_reports(session, parse_filters(session, {"date_from": date_from, "date_to": date_to}),
                                      fmt)
        size = sum(len(chunk) for chunk in file.chunks)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"export {fmt:4s} {file.count} reports, {size / 2**20:.1f} MiB: {time.perf_counter() - start:.1f} s, "
          f"{time.process_time() - cpu:.1f} s CPU, peak RSS +{peak - baseline:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("database_url")
    parser.add_argument("--from", dest="date_from", default="2025-01-01")
    parser.add_argument("--to", dest="date_to", default="2025-08-31")
    parser.add_argument("--query", nargs="*", default=list(QUERIES))
    parser.add_argument("--only", choices=("search", "csv", "xlsx"))
    args = parser.parse_args()
    if args.only is None:  # each part in its own process, so one's memory never counts for another
        for part in ("search", "csv", "xlsx"):
            subprocess.run([sys.executable, __file__, args.database_url, "--from", args.date_from, "--to",
                            args.date_to, "--only", part, "--query", *args.query], check=True)
        return
    factory = make_session_factory(make_engine(args.database_url))
    if args.only == "search":
        search(factory, args.query)
    else:
        export(factory, args.only, args.date_from, args.date_to)


if __name__ == "__main__":
    main()
