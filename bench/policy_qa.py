"""Policy Q&A benchmark: accuracy on the labelled questions, per-question misses, latency and start-up time.

Run: `python bench/policy_qa.py [--mode both|jieba|bigram|all]`. Uses a throwaway SQLite database in memory.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

T0 = time.perf_counter()

from sqlalchemy.pool import StaticPool  # noqa: E402

import models  # noqa: E402,F401
from bench.policy_eval import evaluate, load_questions  # noqa: E402
from models.base import Base  # noqa: E402
from service.core.config import DEFAULT_SEED  # noqa: E402
from service.core.db import make_engine, make_session_factory  # noqa: E402
from service.policy import search as policy_search  # noqa: E402
from service.policy.answers import answer_from_index  # noqa: E402
from service.policy.importer import ensure_seed, parse_policy  # noqa: E402
from service.policy.search import ClauseEntry, Index, search, search_index  # noqa: E402

QUESTIONS = ROOT / "tests" / "data" / "policy_questions.json"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def start_to_first_answer() -> float:
    """Fresh database → schema → seed import → first answer (the jieba dictionary loads inside)."""
    engine = make_engine("sqlite://", poolclass=StaticPool)
    Base.metadata.create_all(engine)
    session = make_session_factory(engine)()
    ensure_seed(session)
    result = search(session, "部队怎么开展民族团结创建")
    assert result.answered
    elapsed = time.perf_counter() - T0
    session.close()
    return elapsed


def seed_entries() -> list[ClauseEntry]:
    clauses = parse_policy(DEFAULT_SEED.read_text(encoding="utf-8"))
    return [ClauseEntry(i + 1, 1, (c.parent + 1) if c.parent is not None else None, c.level, c.number, c.heading,
                        c.text, c.path, "seed") for i, c in enumerate(clauses)]


def synthetic_entries(count: int, seed: int = 7) -> list[ClauseEntry]:
    """`count` clauses shuffled from the seed's sentences, in a 3-level tree, so the vocabulary is realistic."""
    rng = random.Random(seed)
    text = DEFAULT_SEED.read_text(encoding="utf-8")
    sentences = [s for s in text.replace("\n", "。").split("。") if len(s) > 8]
    entries: list[ClauseEntry] = []
    for i in range(count):
        level = 1 + (i % 3)
        parent = entries[-1].id if level > 1 else None
        body = "。".join(rng.sample(sentences, 4)) + "。"
        heading = rng.choice(sentences)[:14]
        entries.append(ClauseEntry(i + 1, 1, parent, level, f"{i % 9 + 1}.", heading, body, f"合成 › {i}", "synthetic"))
    return entries


def latency(index: Index, questions: list[str], rounds: int) -> tuple[float, float]:
    timings = []
    for _ in range(rounds):
        for q in questions:
            index.__dict__.pop("_analysed", None)  # every question timed as if asked for the first time
            t = time.perf_counter()
            search_index(index, q)
            timings.append((time.perf_counter() - t) * 1000)
    return statistics.median(timings), percentile(timings, 99)


def follow_up_latency(index: Index, conversations: list[list[str]], rounds: int) -> tuple[float, float]:
    """p50 and p99 of one turn of a two-turn conversation, the second read against the first (several searches)."""
    timings = []
    for _ in range(rounds):
        for turns in conversations:
            index.__dict__.pop("_analysed", None)
            previous = None
            for turn in turns:
                t = time.perf_counter()
                _result, reply, _items, asked = answer_from_index(index, turn, previous)
                timings.append((time.perf_counter() - t) * 1000)
                previous = asked if reply is not None else previous
    return statistics.median(timings), percentile(timings, 99)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", default=policy_search.MODE, choices=[*policy_search.MODES, "all"])
    args = parser.parse_args()
    startup = start_to_first_answer()
    data = load_questions(QUESTIONS)
    all_questions = ([item["q"] for item in data["on_topic"]] + data["off_topic"] + data["off_topic_plausible"])
    modes = policy_search.MODES if args.mode == "all" else (args.mode,)
    print(f"questions: {len(data['on_topic'])} on topic, {len(data['off_topic'])} off topic + "
          f"{len(data['off_topic_plausible'])} sharing policy words, {len(data['follow_ups'])} follow-ups; "
          f"coverage needed {policy_search.COVERAGE_MIN}")
    for mode in modes:
        index = Index.build(seed_entries(), mode)
        ev = evaluate(index, data)
        print(f"\n== tokenisation: {mode}")
        print(f"lead accuracy      {ev.lead_rate:6.1%}  ({ev.lead}/{ev.total})  target ≥ 92 %")
        print(f"top-1 clause       {ev.top1_rate:6.1%}  ({ev.top1}/{ev.total})")
        print(f"off-topic fallback {ev.off_rate:6.1%}  ({ev.off_fallback}/{ev.off_total}; sharing policy words "
              f"{ev.plausible_fallback}/{ev.plausible_total})  target ≥ 95 %")
        print(f"follow-ups         {ev.follow_rate:6.1%}  ({ev.follow_lead}/{ev.follow_total})  target ≥ 85 %")
        print(f"median answer before 出处: {ev.median_length:.0f} characters  target ≤ 150")
        print("misses:")
        for miss in ev.misses:
            print(f"  {miss}")
    index = Index.build(seed_entries(), modes[0])
    p50, p99 = latency(index, all_questions, 5)
    print(f"\nlatency on the seed ({len(index.entries)} clauses, {modes[0]}): p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    p50, p99 = follow_up_latency(index, [item["turns"] for item in data["follow_ups"]], 3)
    print(f"latency of a conversation turn (follow-ups resolved): p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    t = time.perf_counter()
    big = Index.build(synthetic_entries(5000), modes[0])
    build = time.perf_counter() - t
    p50, p99 = latency(big, all_questions, 2)
    print(f"latency on 5,000 synthetic clauses: p50 {p50:.2f} ms, p99 {p99:.2f} ms (index build {build:.1f} s)")
    print(f"start to first answer (imports, schema, seed import, dictionary load, answer): {startup:.2f} s")


if __name__ == "__main__":
    main()
