"""Score the question answering against a labelled question set (shared by the accuracy test and the benchmark)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from service.policy.search import Index, search_index


@dataclass
class Evaluation:
    total: int = 0
    top1: int = 0
    top3: int = 0
    off_total: int = 0
    off_fallback: int = 0
    misses: list[str] = field(default_factory=list)

    @property
    def top1_rate(self) -> float:
        return self.top1 / self.total if self.total else 0.0

    @property
    def top3_rate(self) -> float:
        return self.top3 / self.total if self.total else 0.0

    @property
    def off_rate(self) -> float:
        return self.off_fallback / self.off_total if self.off_total else 0.0


def load_questions(path: Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def evaluate(index: Index, questions: dict) -> Evaluation:
    """Top-1 counts only answered questions whose best clause is expected; off-topic must fall back."""
    ev = Evaluation()
    for item in questions["on_topic"]:
        ev.total += 1
        result = search_index(index, item["q"])
        paths = [h.entry.path for h in result.hits[:3]]
        expected = set(item["expected"])
        hit1 = result.answered and bool(paths) and paths[0] in expected
        hit3 = result.answered and bool(expected.intersection(paths))
        ev.top1 += hit1
        ev.top3 += hit3
        if not hit1:
            got = f"{paths[0]} (conf {result.confidence:.2f})" if paths else "nothing"
            flag = "" if result.answered else " [fallback]"
            ev.misses.append(f"{'top3' if hit3 else 'MISS'}: {item['q']} → {got}{flag}; want {item['expected'][0]}")
    for question in questions["off_topic"]:
        ev.off_total += 1
        result = search_index(index, question)
        if not result.answered:
            ev.off_fallback += 1
        else:
            ev.misses.append(f"OFF: {question} → {result.hits[0].entry.path} (conf {result.confidence:.2f})")
    return ev
