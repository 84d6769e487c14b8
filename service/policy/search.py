"""Find the clause (or administrator FAQ) that answers a free-text question: tokenise, expand synonyms, rank by BM25.

The index covers the clauses of every current document and is cached in process, keyed by the current documents'
identity, so it is rebuilt only after an import. Tokenisation is chosen by measured accuracy (bench/policy_qa.py):
`MODE` = "both" indexes jieba words (with the domain dictionary) and character bigrams side by side.
"""
from __future__ import annotations

import json
import logging
import math
import re
import threading
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.policy import FaqEntry, PolicyClause, PolicyDocument

LEXICON_PATH = Path(__file__).resolve().parent / "data" / "policy_synonyms.json"
JIEBA_DICT = Path(__file__).resolve().parent / "data" / "jieba_policy.dict"  # see bench/build_policy_dict.py
MODES = ("jieba", "bigram", "both")
MODE = "both"
K1 = 1.2
B = 0.75
HEADING_WEIGHT = 2  # heading words count this many times
CONTEXT_WEIGHT = 1  # ancestors' headings (进学校 for every 进学校 item) count once
CONFIDENCE_THRESHOLD = 0.34
MASS_FULL = 10.0  # matched idf mass that alone means "certainly on topic" (long questions with many other words)
DOMAIN_IDF_FLOOR = 3.5  # a policy term typed by the user (七进, 民族团结…) is evidence even where it is common
RELATED_MIN_RATIO = 0.35  # a related clause must score at least this share of the best
FAQ_THRESHOLD = 0.6
MAX_QUERY_CHARS = 200  # longer pastes are cut before searching

log = logging.getLogger(__name__)
_KEEP = re.compile(r"[\u4e00-\u9fff]+|[a-z0-9]+")
_CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass(frozen=True)
class Lexicon:
    synonyms: dict[str, tuple[str, ...]]
    domain_words: tuple[str, ...]
    stopwords: frozenset[str]


@lru_cache(maxsize=1)
def lexicon(path: Path = LEXICON_PATH) -> Lexicon:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return Lexicon({k: tuple(v) for k, v in data["synonyms"].items()}, tuple(data["domain_words"]),
                   frozenset(data["stopwords"]))


def normalize(text: str) -> str:
    """NFKC (full-width → half-width), lower case, whitespace collapsed: the form questions are compared in."""
    text = unicodedata.normalize("NFKC", text or "").lower()
    return re.sub(r"\s+", " ", text).strip()


def compact(text: str) -> str:
    """Only Chinese characters, letters and digits: the key for FAQ and unanswered-question matching."""
    return "".join(_KEEP.findall(normalize(text)))


def expand_synonyms(text: str, lex: Lexicon | None = None) -> str:
    """Append the policy's word for every colloquial word found (部队 → 连队)."""
    lex = lex or lexicon()
    extra = [canonical for canonical, variants in lex.synonyms.items()
             if canonical not in text and any(v in text for v in variants)]
    return text + (" " + " ".join(extra) if extra else "")


@lru_cache(maxsize=1)
def _homophones() -> dict[tuple[str, ...], tuple[str, ...]]:
    """Pinyin (toneless) of every lexicon word → the words, to undo pinyin-input typos (社曲 → 社区)."""
    from pypinyin import lazy_pinyin

    lex = lexicon()
    words = set(lex.domain_words) | set(lex.synonyms) | {v for vs in lex.synonyms.values() for v in vs}
    table: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for word in words:
        if len(word) >= 2 and all(_CJK.match(ch) for ch in word):
            table[tuple(lazy_pinyin(word))].append(word)
    return {k: tuple(sorted(v)) for k, v in table.items()}


def correct_homophones(text: str) -> str:
    """Append the lexicon word for each homophone typo: a window that sounds like a lexicon word, shares all but
    one of its characters (two for longer words) and is not itself that word."""
    from pypinyin import lazy_pinyin

    table = _homophones()
    found: list[str] = []
    for run in re.findall(r"[\u4e00-\u9fff]{2,}", text):
        sounds = lazy_pinyin(run)
        if len(sounds) != len(run):
            continue
        for size in range(2, min(len(run), 7) + 1):
            for start in range(len(run) - size + 1):
                window = run[start:start + size]
                for word in table.get(tuple(sounds[start:start + size]), ()):
                    differing = sum(a != b for a, b in zip(window, word))
                    if 0 < differing <= max(1, size // 3) and word not in text and word not in found:
                        found.append(word)
    return text + (" " + " ".join(found) if found else "")


_jieba_lock = threading.Lock()


@lru_cache(maxsize=1)
def _jieba():
    """A private jieba tokenizer on the trimmed dictionary plus the domain words (loaded once, ~20 ms)."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    with _jieba_lock:
        tokenizer = jieba.Tokenizer(dictionary=str(JIEBA_DICT))
        tokenizer.initialize()
        for word in lexicon().domain_words:
            tokenizer.add_word(word, freq=200000)
        for canonical in lexicon().synonyms:
            tokenizer.add_word(canonical, freq=50000)
    return tokenizer


def _bigrams(text: str, stop: frozenset[str]) -> list[str]:
    out: list[str] = []
    for run in _KEEP.findall(text):
        if not _CJK.match(run):
            if len(run) > 1:
                out.append(run)
            continue
        if len(run) == 1:
            if run not in stop:
                out.append(run)
            continue
        out.extend("#" + run[i:i + 2] for i in range(len(run) - 1) if run[i:i + 2] not in stop)
    return out


def _words(text: str, stop: frozenset[str]) -> list[str]:
    tokens = []
    for run in _KEEP.findall(text):
        if not _CJK.match(run):
            if len(run) > 1:  # a lone digit or letter says nothing about the topic
                tokens.append(run)
            continue
        tokens.extend(w for w in _jieba().lcut_for_search(run) if w not in stop)
    return tokens


def tokenize(text: str, mode: str = MODE) -> list[str]:
    """Search tokens of `text` (already normalised): jieba words, '#'-prefixed character bigrams, or both."""
    stop = lexicon().stopwords
    if mode == "jieba":
        return _words(text, stop)
    if mode == "bigram":
        return _bigrams(text, stop)
    return _words(text, stop) + _bigrams(text, stop)


# ---- index -----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ClauseEntry:
    id: int
    document_id: int
    parent_id: int | None
    level: int
    number: str
    heading: str
    text: str
    path: str
    title: str

    @property
    def label(self) -> str:
        return f"{self.number}{self.heading}"


@dataclass
class Index:
    entries: list[ClauseEntry]
    mode: str
    postings: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    lengths: list[int] = field(default_factory=list)
    idf: dict[str, float] = field(default_factory=dict)
    avg_len: float = 1.0
    max_idf: float = 1.0

    @classmethod
    def build(cls, entries: Sequence[ClauseEntry], mode: str = MODE) -> "Index":
        index = cls(list(entries), mode)
        by_id = {e.id: e for e in entries}
        children: dict[int, list[ClauseEntry]] = defaultdict(list)
        for e in entries:
            if e.parent_id is not None:
                children[e.parent_id].append(e)
        postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for i, e in enumerate(entries):
            ancestors = []
            parent = by_id.get(e.parent_id) if e.parent_id is not None else None
            while parent is not None:
                ancestors.append(parent.heading)
                parent = by_id.get(parent.parent_id) if parent.parent_id is not None else None
            child_headings = " ".join(c.heading for c in children.get(e.id, ()))
            counts: Counter[str] = Counter()
            for _ in range(HEADING_WEIGHT):
                counts.update(tokenize(normalize(e.heading), mode))
            for _ in range(CONTEXT_WEIGHT):
                counts.update(tokenize(normalize(" ".join(ancestors)), mode))
            counts.update(tokenize(normalize(e.text + " " + child_headings), mode))
            for term, tf in counts.items():
                postings[term].append((i, tf))
            index.lengths.append(sum(counts.values()))
        n = max(len(entries), 1)
        index.postings = dict(postings)
        index.idf = {t: math.log(1 + (n - len(p) + 0.5) / (len(p) + 0.5)) for t, p in postings.items()}
        index.max_idf = math.log(1 + (n + 0.5) / 0.5)
        index.avg_len = (sum(index.lengths) / n) or 1.0
        return index

    def rank(self, query_tokens: Iterable[str], floors: dict[str, float] | None = None
             ) -> tuple[list[tuple[int, float]], dict[int, float], float]:
        """[(entry index, score)] best first, {entry index: idf mass matched}, and the query's total idf mass.

        `floors` raises the confidence weight (not the ranking weight) of some terms, see `search_index`.
        """
        floors = floors or {}
        terms = set(query_tokens)
        # In "both" mode confidence is measured on the words alone: bigrams across word boundaries are noise there.
        counted = {t for t in terms if not t.startswith("#")} if self.mode == "both" else terms
        scores: dict[int, float] = defaultdict(float)
        matched: dict[int, float] = defaultdict(float)
        total = 0.0
        for term in terms:
            idf = self.idf.get(term)
            if idf is None:
                total += self.max_idf if term in counted else 0.0
                continue
            weight = max(idf, floors.get(term, 0.0)) if term in counted else 0.0
            total += weight
            for i, tf in self.postings[term]:
                norm = tf * (K1 + 1) / (tf + K1 * (1 - B + B * self.lengths[i] / self.avg_len))
                scores[i] += idf * norm
                matched[i] += weight
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
        return ranked, matched, total


_cache: dict[tuple, Index] = {}
_cache_lock = threading.Lock()


def _corpus_key(session: Session) -> tuple:
    rows = session.execute(
        select(PolicyDocument.id, PolicyDocument.content_hash, func.min(PolicyClause.id), func.count(PolicyClause.id))
        .join(PolicyClause, PolicyClause.document_id == PolicyDocument.id)
        .where(PolicyDocument.is_current.is_(True))
        .group_by(PolicyDocument.id, PolicyDocument.content_hash)
        .order_by(PolicyDocument.id)
    ).all()
    return tuple(tuple(r) for r in rows)


def load_entries(session: Session) -> list[ClauseEntry]:
    rows = session.execute(
        select(PolicyClause, PolicyDocument.title).join(PolicyDocument)
        .where(PolicyDocument.is_current.is_(True)).order_by(PolicyDocument.id, PolicyClause.position)
    ).all()
    return [ClauseEntry(c.id, c.document_id, c.parent_id, c.level, c.number, c.heading, c.text, c.path, title)
            for c, title in rows]


def current_index(session: Session) -> Index:
    """The BM25 index of the current clauses, built once per set of current documents (tokenised the production
    way; bench/policy_qa.py builds `Index.build(entries, mode)` itself to compare tokenisations)."""
    key = _corpus_key(session)
    index = _cache.get(key)
    if index is None:
        with _cache_lock:
            index = _cache.get(key)
            if index is None:
                index = Index.build(load_entries(session))
                _cache.clear()
                _cache[key] = index
    return index


# ---- search ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Hit:
    entry: ClauseEntry
    score: float
    confidence: float


@dataclass
class SearchResult:
    query: str
    hits: list[Hit]
    confidence: float
    faq: FaqEntry | None = None

    @property
    def answered(self) -> bool:
        return self.faq is not None or (bool(self.hits) and self.confidence >= CONFIDENCE_THRESHOLD)

    @property
    def best(self) -> Hit | None:
        return self.hits[0] if self.hits else None


def query_tokens(text: str, mode: str = MODE) -> list[str]:
    """Normalise, cut, fix homophone typos, add the policy's words for colloquial ones, tokenise."""
    return tokenize(expand_synonyms(correct_homophones(normalize(text)[:MAX_QUERY_CHARS])), mode)


def search_index(index: Index, text: str, limit: int = 3) -> SearchResult:
    """Rank the index's clauses for `text` and say how sure we are, in [0, 1].

    Confidence is the larger of the share of the question's idf mass the clause covers and that mass over
    MASS_FULL, so a long question full of everyday words still counts when it names enough policy words. Policy
    terms the user typed weigh at least DOMAIN_IDF_FLOOR; synonym expansions do not get that floor, so 物业费 (→ 社区)
    stays off topic.
    """
    tokens = query_tokens(text, index.mode)
    typed = normalize(text)[:MAX_QUERY_CHARS]
    floors = {w: DOMAIN_IDF_FLOOR for w in lexicon().domain_words if w in typed}
    ranked, matched, total = index.rank(tokens, floors)
    hits = []
    for i, score in ranked[:limit]:
        coverage = matched[i] / total if total else 0.0
        hits.append(Hit(index.entries[i], score, min(1.0, max(coverage, matched[i] / MASS_FULL))))
    confidence = hits[0].confidence if hits else 0.0
    return SearchResult(text, hits, confidence)


def _faq_grams(text: str) -> set[str]:
    key = compact(text)
    return {key[i:i + 2] for i in range(len(key) - 1)} or ({key} if key else set())


def match_faq(session: Session, text: str) -> FaqEntry | None:
    """The active FAQ entry one of whose phrasings is the question (exactly, or by ≥ 60 % bigram overlap)."""
    key = compact(text)
    if not key:
        return None
    grams = _faq_grams(text)
    best: tuple[float, FaqEntry] | None = None
    for faq in session.scalars(select(FaqEntry).where(FaqEntry.active.is_(True)).order_by(FaqEntry.id)):
        for phrasing in faq.questions or []:
            if compact(phrasing) == key:
                return faq
            other = _faq_grams(phrasing)
            if not other or not grams:
                continue
            score = len(grams & other) / len(grams | other)
            if score >= FAQ_THRESHOLD and (best is None or score > best[0]):
                best = (score, faq)
    return best[1] if best else None


def search(session: Session, text: str, limit: int = 3) -> SearchResult:
    """FAQ first; otherwise the clauses best matching `text` with a confidence in [0, 1]."""
    faq = match_faq(session, text)
    result = search_index(current_index(session), text, limit)
    result.faq = faq
    return result


def related_hits(result: SearchResult, count: int = 2) -> list[Hit]:
    """Up to `count` runner-up clauses worth offering next to the best one."""
    if not result.hits:
        return []
    best = result.hits[0]
    return [h for h in result.hits[1:] if h.score >= best.score * RELATED_MIN_RATIO][:count]
