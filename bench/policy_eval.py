"""Score the question answering against a labelled question set (shared by the accuracy test and the benchmark).

Graded on the replies residents get (service/policy/answers.answer_from_index): "lead" means one of the question's
phrases of the answering sentence is within the first LEAD_WINDOW characters of the reply; off-topic questions
must get the fallback; a follow-up is graded on the second reply of a two-turn conversation.
"""
from __future__ import annotations

import json
import re
import statistics
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from service.policy.answers import answer_from_index
from service.policy.search import Index

LEAD_WINDOW = 200
SOURCE_MARK = "出处"
_QUOTES = re.compile(r"[“”‘’\"'\s]")


@dataclass
class Evaluation:
    total: int = 0
    top1: int = 0
    lead: int = 0
    off_total: int = 0
    off_fallback: int = 0
    plausible_total: int = 0
    plausible_fallback: int = 0
    follow_total: int = 0
    follow_lead: int = 0
    lengths: list[int] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)

    @property
    def top1_rate(self) -> float:
        return self.top1 / self.total if self.total else 0.0

    @property
    def lead_rate(self) -> float:
        return self.lead / self.total if self.total else 0.0

    @property
    def off_rate(self) -> float:
        return self.off_fallback / self.off_total if self.off_total else 0.0

    @property
    def plausible_rate(self) -> float:
        return self.plausible_fallback / self.plausible_total if self.plausible_total else 0.0

    @property
    def follow_rate(self) -> float:
        return self.follow_lead / self.follow_total if self.follow_total else 0.0

    @property
    def median_length(self) -> float:
        return statistics.median(self.lengths) if self.lengths else 0.0


def load_questions(path: Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def plain(text: str) -> str:
    """NFKC, without quotes and spaces: the form leads and replies are compared in."""
    return _QUOTES.sub("", unicodedata.normalize("NFKC", text))


def leads(reply: str | None, phrases: list[str]) -> bool:
    """One of `phrases` is within the first LEAD_WINDOW characters of the reply."""
    if not reply:
        return False
    window = plain(reply[:LEAD_WINDOW])
    return any(plain(p) in window for p in phrases)


def before_source(reply: str) -> int:
    """Characters of the reply before its 出处 line (the answer a resident reads first)."""
    cut = reply.find(SOURCE_MARK)
    return len(reply[:cut].strip()) if cut >= 0 else len(reply)


def evaluate(index: Index, questions: dict) -> Evaluation:
    ev = Evaluation()
    for item in questions["on_topic"]:
        ev.total += 1
        result, reply, _items, _asked = answer_from_index(index, item["q"])
        path = result.best.entry.path if result.best else "nothing"
        ev.top1 += reply is not None and path in item["expected"]
        if reply is not None:
            ev.lengths.append(before_source(reply))
        if leads(reply, item["lead"]):
            ev.lead += 1
        else:
            got = "[fallback] " + "; ".join(result.reasons) if reply is None else reply[:60].replace("\n", " / ")
            ev.misses.append(f"LEAD: {item['q']} → {path}: {got}; want {item['lead'][0]}")
    for key in ("off_topic", "off_topic_plausible"):
        for question in questions.get(key, []):
            result, reply, _items, _asked = answer_from_index(index, question)
            ev.off_total += 1
            ev.plausible_total += key == "off_topic_plausible"
            if reply is None:
                ev.off_fallback += 1
                ev.plausible_fallback += key == "off_topic_plausible"
            else:
                ev.misses.append(f"OFF: {question} → {result.best.entry.path}; {'; '.join(result.reasons)}")
    for item in questions.get("follow_ups", []):
        ev.follow_total += 1
        previous = None
        for turn in item["turns"][:-1]:
            _result, first, _items, asked = answer_from_index(index, turn, previous)
            previous = asked if first is not None else previous
        result, reply, _items, asked = answer_from_index(index, item["turns"][-1], previous)
        if leads(reply, item["lead"]):
            ev.follow_lead += 1
        else:
            got = "[fallback]" if reply is None else reply[:60].replace("\n", " / ")
            ev.misses.append(f"FOLLOW: {' → '.join(item['turns'])} (as {asked!r}): {got}; want {item['lead'][0]}")
    return ev
