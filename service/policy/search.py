"""Find the clause (or administrator FAQ) that answers a free-text question: tokenise, expand synonyms, rank by BM25.

The index covers the clauses of every current document and is cached in process, keyed by the current documents'
identity, so it is rebuilt only after an import. Tokenisation is chosen by measured accuracy (bench/policy_qa.py):
`MODE` = "both" indexes jieba words (with the domain dictionary) and character bigrams side by side.
"""
from __future__ import annotations

import hashlib
import heapq
import json
import logging
import math
import os
import re
import tempfile
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
DOMAIN_IDF_FLOOR = 3.5  # a policy term typed by the user (七进, 民族团结…) is evidence even where it is common
FAQ_THRESHOLD = 0.6
RELATED_MIN_RATIO = 0.35  # a related clause must score at least this share of the best
MAX_QUERY_CHARS = 200  # longer pastes are cut before searching
SCORED_MAX = 1000  # on a corpus larger than this, at most this many clauses are scored (rarest terms first)
COMMON_SHARE = 0.2  # … and a term in more than this share of its clauses only adds to clauses already found
RANKED_MAX = 64  # clauses kept from the ranking: sentences are read in the first few, related ones offered

log = logging.getLogger(__name__)
_KEEP = re.compile(r"[\u4e00-\u9fff]+|[a-z0-9]+")
_CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass(frozen=True)
class Lexicon:
    synonyms: dict[str, tuple[str, ...]]
    domain_words: tuple[str, ...]
    stopwords: frozenset[str]
    fillers: frozenset[str] = frozenset()  # colloquial and question words that carry no topic (俺, 咋整, 算不算)
    generic: frozenset[str] = frozenset()  # policy words that name no particular topic (创建, 活动, 要求)
    out_of_scope: tuple[str, ...] = ()  # topics of other public services (医保, 门票, 几点)
    variants: dict[str, tuple[str, ...]] = field(default_factory=dict)  # colloquial word → the policy's words


@lru_cache(maxsize=1)
def lexicon(path: Path = LEXICON_PATH) -> Lexicon:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    synonyms = {k: tuple(v) for k, v in data["synonyms"].items()}
    variants: dict[str, list[str]] = defaultdict(list)
    for canonical, words in synonyms.items():
        for word in words:
            variants[word].append(canonical)
    return Lexicon(synonyms, tuple(data["domain_words"]), frozenset(data["stopwords"]),
                   frozenset(data.get("fillers", ())), frozenset(data.get("generic", ())),
                   tuple(data.get("out_of_scope", ())), {k: tuple(v) for k, v in variants.items()})


def normalize(text: str) -> str:
    """NFKC (full-width → half-width), lower case, whitespace collapsed: the form questions are compared in."""
    text = unicodedata.normalize("NFKC", text or "").lower()
    return re.sub(r"\s+", " ", text).strip()


def compact(text: str) -> str:
    """Only Chinese characters, letters and digits: the key for FAQ and unanswered-question matching."""
    return "".join(_KEEP.findall(normalize(text)))


def expand_synonyms(text: str, lex: Lexicon | None = None) -> str:
    """Append the policy's word for every colloquial word found (部队 → 连队); the longest colloquial phrase wins
    where two overlap (不肯租房子 is 不肯租 → 拒租, not 租房子 → 住房租赁)."""
    lex = lex or lexicon()
    rest, extra = text, []
    for variant in _longest_first(lex):
        if variant in rest:
            rest = rest.replace(variant, " ")
            extra.extend(c for c in lex.variants[variant] if c not in text and c not in extra)
    for word in _cut(rest):  # a one-character word (学) only where it stands alone, never inside 学校
        if len(word) == 1 and word in lex.variants:
            extra.extend(c for c in lex.variants[word] if c not in text and c not in extra)
    return text + (" " + " ".join(extra) if extra else "")


def _longest_first(lex: Lexicon) -> tuple[str, ...]:
    """The colloquial words of two or more characters, longest first (the order they are looked for in); kept
    on the lexicon."""
    words = lex.__dict__.get("_longest_first")
    if words is None:
        words = lex.__dict__["_longest_first"] = tuple(
            sorted((v for v in lex.variants if len(v) > 1), key=len, reverse=True))
    return words


@lru_cache(maxsize=1)
def _lexicon_words() -> frozenset[str]:
    lex = lexicon()
    return frozenset(lex.domain_words) | frozenset(lex.synonyms) | frozenset(lex.variants)


PINYIN_CACHE = Path(__file__).resolve().parents[2] / "instance" / "policy_pinyin.json"
_PINYIN_FORMAT = 3


def _toneless(reading: str) -> str:
    """zhōng → zhong, lǜ → lv: the form sounds are compared in."""
    decomposed = unicodedata.normalize("NFKD", reading.replace("ü", "v").replace("ǖ", "v").replace("ǘ", "v")
                                       .replace("ǚ", "v").replace("ǜ", "v"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _build_pinyin(words: Iterable[str]) -> dict:
    """Each lexicon word's sounds (read as a phrase) and the common reading of every character that sounds like a
    character of one of them: the only characters a homophone slip can be made of."""
    from pypinyin import Style, lazy_pinyin
    from pypinyin.pinyin_dict import pinyin_dict

    sounds = {w: [_toneless(p) for p in lazy_pinyin(w, style=Style.TONE)] for w in sorted(words)}
    used = {p for ps in sounds.values() for p in ps}
    chars = {}
    for code, readings in pinyin_dict.items():
        first = _toneless(readings.split(",")[0])  # the common reading: 搞 is gao, never kao
        if first in used:
            chars[chr(code)] = [first]
    return {"words": sounds, "chars": chars}


@lru_cache(maxsize=1)
def _pinyin() -> tuple[dict[tuple[int, str], list[tuple[tuple[str, ...], tuple[str, ...]]]], dict[str, frozenset[str]]]:
    """(first sound and length → [(sounds, words)], character → its sounds) for the lexicon's words, kept in
    instance/ keyed by the lexicon's content, so a fresh process does not load the pinyin library's dictionaries."""
    words = sorted(w for w in _lexicon_words() if len(w) >= 2 and all(_CJK.match(ch) for ch in w))
    key = hashlib.sha1(("\n".join(words) + f"/{_PINYIN_FORMAT}").encode("utf-8")).hexdigest()
    data = None
    try:
        stored = json.loads(PINYIN_CACHE.read_text(encoding="utf-8"))
        if stored.get("key") == key:
            data = stored
    except (OSError, ValueError):
        pass
    if data is None:
        data = {"key": key, **_build_pinyin(words)}
        try:
            PINYIN_CACHE.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=PINYIN_CACHE.parent, prefix=".pinyin-", suffix=".json")
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(data, out, ensure_ascii=False)
            os.replace(tmp, PINYIN_CACHE)
        except OSError:  # a read-only instance folder: build again next start
            log.warning("could not store the pinyin table in %s", PINYIN_CACHE)
    grouped: dict[tuple, list[str]] = defaultdict(list)
    for word, sounds in data["words"].items():
        grouped[tuple(sounds)].append(word)
    table: dict[tuple[int, str], list] = defaultdict(list)
    for sounds, same in grouped.items():
        table[(len(sounds), sounds[0])].append((sounds, tuple(sorted(same))))
    return dict(table), {c: frozenset(r) for c, r in data["chars"].items()}


def homophone_fixes(text: str) -> list[tuple[str, str]]:
    """(typo, lexicon word) for each homophone slip of pinyin input or speech recognition: a window that can sound
    like a lexicon word (each character read its common way), shares all but one of its characters (two for longer
    words) and is not itself that word. Longer words first, so 宗教活动厂所 is fixed whole."""
    table, chars = _pinyin()
    known = _lexicon_words()
    found: list[tuple[str, str]] = []
    for run in re.findall(r"[\u4e00-\u9fff]{2,}", text):
        sounds = [chars.get(ch, frozenset()) for ch in run]
        spans = _known_spans(run)
        for size in range(min(len(run), 7), 1, -1):
            for start in range(len(run) - size + 1):
                window = run[start:start + size]
                if window in known or any(a < start + size and start < b and not (start <= a and b <= start + size)
                                          for a, b in spans):
                    continue  # a real word, or one that cuts a real word in two (公司里 is no 寺里)
                heard = sounds[start:start + size]
                for first in heard[0]:
                    for word_sounds, words in table.get((size, first), ()):
                        if not all(s in h for s, h in zip(word_sounds, heard)):
                            continue
                        for word in words:
                            differing = sum(a != b for a, b in zip(window, word))
                            if 0 < differing <= max(1, size // 3) and word not in text and \
                                    not any(window in typo for typo, _ in found):
                                found.append((window, word))
    return found


@lru_cache(maxsize=1)
def _known_by_first() -> dict[str, tuple[str, ...]]:
    """The lexicon words of two or more characters by their first character."""
    grouped: dict[str, list[str]] = defaultdict(list)
    for word in _lexicon_words():
        if len(word) > 1:
            grouped[word[0]].append(word)
    return {ch: tuple(words) for ch, words in grouped.items()}


def _known_spans(run: str) -> list[tuple[int, int]]:
    """(start, end) of every lexicon word of two or more characters in `run`."""
    spans = []
    by_first = _known_by_first()
    for word in {w for ch in set(run) for w in by_first.get(ch, ())}:
        if word in run:
            start = run.find(word)
            while start >= 0:
                spans.append((start, start + len(word)))
                start = run.find(word, start + 1)
    return spans


def fix_homophones(text: str) -> str:
    """`text` with its homophone slips replaced by the lexicon words (进社曲 → 进社区)."""
    for typo, word in homophone_fixes(text):
        text = text.replace(typo, word)
    return text


def correct_homophones(text: str) -> str:
    """`text` followed by the lexicon word of each homophone slip in it."""
    found = [word for _typo, word in homophone_fixes(text)]
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
        for word in [*lexicon().variants, *lexicon().fillers, *lexicon().out_of_scope]:
            if len(word) > 1:
                tokenizer.add_word(word, freq=30000)
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


SENTENCE_END = re.compile(r"(?<=[。；;！!？?])")
SENTENCE_B = 0.5  # length normalisation of a sentence's score (a long sentence matches more by chance)


@dataclass(frozen=True)
class Sentence:
    """One sentence of a clause, in the form answers are ranked and quoted at."""

    text: str  # as written
    plain: str  # normalised, for substring tests (coverage)
    terms: frozenset[str]
    length: int


def split_sentences(text: str) -> list[str]:
    """The clause's sentences (。；！？ end one; a paragraph break too), without empty pieces."""
    out = []
    for paragraph in (text or "").splitlines():
        out.extend(p.strip() for p in SENTENCE_END.split(paragraph) if p.strip())
    return out


@dataclass
class Index:
    entries: list[ClauseEntry]
    mode: str
    postings: dict[str, list[tuple[int, float]]] = field(default_factory=dict)  # term → (entry, saturated tf)
    lengths: list[int] = field(default_factory=list)
    idf: dict[str, float] = field(default_factory=dict)
    avg_len: float = 1.0
    max_idf: float = 1.0
    sentences: list[tuple[Sentence, ...]] = field(default_factory=list)  # per entry
    context: list[str] = field(default_factory=list)  # per entry: its heading and its ancestors', normalised
    context_terms: list[frozenset[str]] = field(default_factory=list)
    children: dict[int, list[int]] = field(default_factory=dict)  # entry position → its children's positions
    avg_sentence: float = 1.0
    text: str = ""  # every clause, normalised: which words the policy uses at all
    pairs: frozenset[str] = frozenset()  # every pair of adjacent characters of `text`

    @classmethod
    def build(cls, entries: Sequence[ClauseEntry], mode: str = MODE) -> "Index":
        index = cls(list(entries), mode)
        position = {e.id: i for i, e in enumerate(entries)}
        children: dict[int, list[int]] = defaultdict(list)
        for i, e in enumerate(entries):
            if e.parent_id is not None and e.parent_id in position:
                children[position[e.parent_id]].append(i)
        postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
        texts = []
        for i, e in enumerate(entries):
            ancestors = []
            parent = position.get(e.parent_id) if e.parent_id is not None else None
            while parent is not None:
                ancestors.append(entries[parent].heading)
                up = entries[parent].parent_id
                parent = position.get(up) if up is not None else None
            child_headings = " ".join(entries[c].heading for c in children.get(i, ()))
            heading_tokens = tokenize(normalize(e.heading), mode)
            context_tokens = tokenize(normalize(" ".join(ancestors)), mode)
            counts: Counter[str] = Counter()
            for _ in range(HEADING_WEIGHT):
                counts.update(heading_tokens)
            for _ in range(CONTEXT_WEIGHT):
                counts.update(context_tokens)
            counts.update(tokenize(normalize(e.text + " " + child_headings), mode))
            for term, tf in counts.items():
                postings[term].append((i, tf))
            index.lengths.append(sum(counts.values()))
            sentences = []
            for raw in split_sentences(e.text):
                plain = normalize(raw)
                terms = tokenize(plain, mode)
                sentences.append(Sentence(raw, plain, frozenset(terms), max(len(terms), 1)))
            index.sentences.append(tuple(sentences))
            index.context.append(normalize(" ".join([e.heading, *ancestors])))
            index.context_terms.append(frozenset(heading_tokens) | frozenset(context_tokens))
            texts.append(normalize(e.heading + " " + e.text))
        n = max(len(entries), 1)
        index.avg_len = (sum(index.lengths) / n) or 1.0
        index.postings = {
            t: [(i, tf * (K1 + 1) / (tf + K1 * (1 - B + B * index.lengths[i] / index.avg_len))) for i, tf in p]
            for t, p in postings.items()}
        index.idf = {t: math.log(1 + (n - len(p) + 0.5) / (len(p) + 0.5)) for t, p in postings.items()}
        index.max_idf = math.log(1 + (n + 0.5) / 0.5)
        all_sentences = [s.length for ss in index.sentences for s in ss]
        index.avg_sentence = (sum(all_sentences) / len(all_sentences)) if all_sentences else 1.0
        index.children = dict(children)
        index.text = "\n".join(texts)
        index.pairs = frozenset(index.text[k:k + 2] for k in range(len(index.text) - 1))
        return index

    def rank(self, query_tokens: Iterable[str], boost: set[int] | frozenset[int] = frozenset(),
             factor: float = 1.0, limit: int | None = None) -> list[tuple[int, float]]:
        """[(entry position, BM25 score)] best first, clauses in `boost` scoring `factor` times more; at most
        `limit` of them.

        Terms are taken rarest first. On a large corpus (more than SCORED_MAX clauses) a term found in more than
        COMMON_SHARE of the clauses only adds to clauses the rarer terms found, and once SCORED_MAX clauses hold a
        score no new ones are opened: the long posting lists of common words decide nothing there.
        """
        scores: dict[int, float] = {}
        n = len(self.entries)
        large = n > SCORED_MAX
        terms = sorted((t for t in set(query_tokens) if t in self.idf), key=lambda t: (len(self.postings[t]), t))
        for term in terms:
            idf = self.idf[term]
            postings = self.postings[term]
            if large and scores and (len(scores) >= SCORED_MAX or len(postings) > COMMON_SHARE * n):
                if len(postings) <= 2 * len(scores):
                    for i, weight in postings:
                        if i in scores:
                            scores[i] += idf * weight
                else:
                    get = self.posting_map(term).get
                    for i in scores:
                        weight = get(i)
                        if weight is not None:
                            scores[i] += idf * weight
                continue
            for i, weight in postings:
                scores[i] = scores.get(i, 0.0) + idf * weight
        if boost and factor != 1.0:
            for i in boost:
                if i in scores:
                    scores[i] *= factor
        key = lambda kv: (-kv[1], kv[0])  # noqa: E731
        if limit is not None and len(scores) > limit:
            return heapq.nsmallest(limit, scores.items(), key=key)
        return sorted(scores.items(), key=key)

    def posting_map(self, term: str) -> dict[int, float]:
        """A common term's postings as a mapping (built on first use), to look clauses up in."""
        maps = self.__dict__.setdefault("_posting_maps", {})
        found = maps.get(term)
        if found is None:
            found = maps[term] = dict(self.postings[term])
        return found

    def uses(self, word: str) -> bool:
        """Whether the policy's text holds `word` anywhere (its character pairs are looked up first)."""
        if len(word) > 1 and any(word[k:k + 2] not in self.pairs for k in range(len(word) - 1)):
            return False
        return word in self.text

    def sentence_score(self, terms: set[str], sentence: Sentence) -> float:
        """BM25 of the query's terms in one sentence (each term counted once)."""
        norm = (K1 + 1) / (1 + K1 * (1 - SENTENCE_B + SENTENCE_B * sentence.length / self.avg_sentence))
        return sum(self.idf.get(t, 0.0) for t in terms & sentence.terms) * norm


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


# ---- understanding a question ----------------------------------------------------------------------------------

# What a question asks about, and the sentences that answer that kind of question (issue: number / who / rule).
ASPECTS: dict[str, tuple[re.Pattern[str], re.Pattern[str]]] = {
    "number": (re.compile(r"几次|几个|几回|几项|多少|多久|多长时间|几年|每年|一年几|频次|次数|至少"),
               re.compile(r"\d|[一两二三四五六七八九十]次|[一两二三四五六七八九十]个|每年|至少|不少于|定期")),
    "who": (re.compile(r"谁|哪个部门|哪个单位|哪些部门|牵头|负责"),
            re.compile(r"领导小组|党委|党组|办公室|专人|部门|单位|区委|市委|小组|组织")),
    "what": (re.compile(r"是什么|是啥|啥叫|什么叫|什么是|指的是|指什么|指啥|是哪|怎么回事|咋回事|啥意思|什么意思|干啥的"),
             re.compile(r"简称|就是|是指|是[^，。；]{2,24}的(?:主|重要|有效)")),
    "allowed": (re.compile(r"能不能|能否|可不可以|可以吗|让不让|行不行|允许|合法|违法|准不准|能.{0,8}吗|管不管|随便"),
                re.compile(r"严禁|不得|禁止|防止|反对|打击|必须|依法|坚持")),
    "when": (re.compile(r"什么时候|啥时候|何时|什么时间|啥时间|几月份|哪个月|哪些日子"),
             re.compile(r"[节日月]|纪念日|期间|每年|定期")),
    "where": (re.compile(r"去哪|到哪|在哪|什么地方|啥地方|哪个地方"),
              re.compile(r"到[^，。；]{1,16}(?:基地|驻地|场所)|在[^，。；]{1,12}(?:位置|设置)")),
    "list": (re.compile(r"哪些|哪几|啥形式|什么形式|啥载体|什么载体|啥活动|什么活动|哪种|啥方式|什么方式"),
             re.compile(r"(?:[^，。；、]{1,10}、){2,}")),  # which ones: the sentence that lists them
}
_LISTED = re.compile(r"(?:哪些|哪几|啥|什么|哪种)(活动|形式|载体|方式|平台|比赛|课程|内容|措施)")  # 有哪些活动: of活动


@lru_cache(maxsize=16)
def _listing(noun: str) -> re.Pattern[str]:
    """A sentence listing kinds of `noun`: 专题讲座、知识竞赛、文艺表演等…文体活动."""
    return re.compile(r"(?:[^，。；、]{1,10}、){2,}[^，。；]{0,40}?等[^，。；]{0,16}" + noun)


def _answer_pattern(question: "Question") -> re.Pattern[str] | None:
    """The sentences that answer the kind of question asked; a list of what the question names (哪些活动) when
    it names the kind of thing listed."""
    if question.aspect is None:
        return None
    named = _LISTED.search(question.plain) if question.aspect == "list" else None
    return _listing(named.group(1)) if named else ASPECTS[question.aspect][1]


ASPECT_BONUS = 0.35  # a sentence of the asked kind scores this much more (share of its score)
FOLLOW_ASPECT_BONUS = 0.7  # … in a follow-up that asks its own kind of question (一年几次, 去哪学)
FOLLOW_UP_MAX_CHARS = 16
SHORT_FOLLOW_UP = 6  # a message this short without a place of its own continues the last question
GENERIC_WEIGHT = 1.0  # policy words that fit every clause (七进, 创建) weigh at most this in coverage
_FOLLOW_START = re.compile(r"^(那么?|还有|另外|然后|再问|那要是|如果是)")
_FOLLOW_END = re.compile(r"(呢|咧|嘞)$")
_PRONOUN = re.compile(r"这个|那个|这些|那些|它|其中|这项|这条|上面|刚才")
CANDIDATES = 8  # clauses whose sentences are ranked
FOLLOW_OWN = 2.0  # in a follow-up, its own words count this much
FOLLOW_EARLIER = 0.4  # … and the earlier question's words this much
REPEAT_FACTOR = 0.5  # a sentence the last answer led with, for a follow-up that asks for more
NEAR_BOOST = 1.2  # sentences in the section of the last answer, for a follow-up that names no new place
CLAUSE_SHARE = 0.35  # how much the clause's own score (heading, path, other sentences) adds to a sentence's
CONTEXT_SHARE = 0.5  # a query term found in the clause's heading or path counts this much of a sentence match
PLACE_BOOST = 1.5  # clauses under a section the question names (进社区 for 小区, 居委会…)
LEAD_CHARS = 120  # the answering sentences are kept to about this many characters
COVERAGE_MIN = 0.5  # the answering sentence must cover this share of the question's meaning
SINGLE_CHAR_WEIGHT = 0.5  # a one-character word says little about the topic
UNKNOWN_WEIGHT = 2.5  # a word the policy never uses (about the median idf of the words it does use)
RERANKED = 8  # the best-scored sentences weighed again by coverage
COVER_SHARE = 0.5  # … score × (COVER_SHARE + coverage): coverage can more than double a sentence's score
CLAUSE_CREDIT = 0.7  # a word found elsewhere in the answering clause counts this much


_MODAL = "要能会该得可就都也还把被让给在是有去来哪啥咋"
_COUNT = re.compile(r"^[一二两三四五六七八九十百几多每半]+[次回个年月天遍项]$")  # 一次, 几回: the number asked


@dataclass(frozen=True)
class Unit:
    """A meaning-bearing word of the question and the words of the policy that may stand for it."""

    word: str
    alternatives: tuple[str, ...]
    weight: float
    kind: str  # "topic" | "place" | "generic" | "scope" (another public service's topic)


@dataclass
class Question:
    text: str  # as asked (after a follow-up is resolved)
    plain: str  # normalised, homophones fixed
    tokens: list[str]
    units: list[Unit]
    aspect: str | None
    places: list[int]  # positions of the sections it names
    place_words: list[str]  # the words that named them, as typed

    @property
    def topic(self) -> list[Unit]:
        return [u for u in self.units if u.kind in ("topic", "scope") and len(u.word) > 1]

    @property
    def out_of_scope(self) -> list[str]:
        return [u.word for u in self.units if u.kind == "scope"]


@lru_cache(maxsize=4096)
def _cut(text: str) -> tuple[str, ...]:
    return tuple(w for w in _jieba().lcut(text) if _KEEP.fullmatch(w))


def _pieces(plain: str) -> list[str]:
    """The question's words: colloquial phrases of the lexicon whole (不肯租, 外地来的), the rest cut by jieba."""
    found: list[str] = []
    rest = plain
    for variant in _longest_first(lexicon()):
        if variant in rest:
            found.append(variant)
            rest = rest.replace(variant, " ")
    return found + [w for part in rest.split() for w in _cut(part)]


def _section_names(index: Index) -> list[tuple[str, int]]:
    """(name, position) of every clause with items: its heading without the leading 进 (进社区 → 社区)."""
    names = getattr(index, "_section_names", None)
    if names is None:
        names = []
        for i in index.children:
            heading = normalize(index.entries[i].heading)
            if heading:
                names.append((heading, i))
                if heading.startswith("进") and len(heading) > 2:
                    names.append((heading[1:], i))
        names.sort(key=lambda item: -len(item[0]))
        index._section_names = names  # type: ignore[attr-defined]
    return names


def _scope_words(index: Index) -> tuple[str, ...]:
    """The out-of-scope topics this policy really does not use (a policy that speaks of 社保 may be asked about it)."""
    words = getattr(index, "_scope_words", None)
    if words is None:
        words = tuple(w for w in lexicon().out_of_scope if not index.uses(w))
        index._scope_words = words  # type: ignore[attr-defined]
    return words


ANALYSED_MAX = 256  # questions whose analysis an index keeps (a follow-up reads the last question again)


def analyse(index: Index, text: str) -> Question:
    """Cut the question into meaning-bearing units, find the sections it names and the kind of answer it wants
    (kept per index for the last few questions: a follow-up is read against the earlier one several times)."""
    memo = index.__dict__.setdefault("_analysed", {})
    found = memo.get(text)
    if found is None:
        if len(memo) >= ANALYSED_MAX:
            memo.clear()
        found = memo[text] = _analyse(index, text)
    return found


def _analyse(index: Index, text: str) -> Question:
    lex = lexicon()
    plain = fix_homophones(normalize(text)[:MAX_QUERY_CHARS])
    tokens = tokenize(expand_synonyms(plain), index.mode)
    scope = _scope_words(index)
    units: list[Unit] = []
    seen: set[str] = set()
    for word in _pieces(plain):
        if len(word) > 1 and word[0] in _MODAL and not index.uses(word) and word[1:] not in lex.fillers:
            word = word[1:]  # 要建, 能办: jieba keeps a modal verb on the word it governs
        if word in seen or word in lex.stopwords or word in lex.fillers or word.isdigit() or _COUNT.match(word) or \
                all(ch in lex.stopwords or ch in lex.fillers for ch in word):  # 那要, 还要: function words only
            continue
        seen.add(word)
        alternatives = (word, *lex.variants.get(word, ()))
        if any(s in word for s in scope):
            kind = "scope"
        elif word in lex.generic:
            kind = "generic"
        else:
            kind = "topic"
        known = [index.idf[a] for a in alternatives if a in index.idf]
        if known:
            weight = max(known)
        else:  # a word the policy never uses: evidence of another topic, but everyday words are many
            weight = UNKNOWN_WEIGHT if not any(index.uses(a) for a in alternatives) else index.max_idf / 2
        if word in lex.domain_words or any(a in lex.domain_words for a in alternatives):
            weight = max(weight, DOMAIN_IDF_FLOOR)
        if len(word) == 1:
            weight = min(weight, SINGLE_CHAR_WEIGHT)
        if kind == "generic":
            weight = min(weight, GENERIC_WEIGHT)
        units.append(Unit(word, alternatives, weight, kind))
    expanded = expand_synonyms(plain)
    missing = {a for u in units for a in u.alternatives[1:] if a not in expanded}
    if missing:  # the policy's words for a word jieba cut with its verb (要学 → 学 → 学习)
        tokens += tokenize(" ".join(sorted(missing)), index.mode)
    places: list[int] = []
    place_words: list[str] = []
    for name, position in _section_names(index):
        if name in expanded and position not in places:
            places.append(position)
            typed = [u.word for u in units if name in u.alternatives or u.word in name
                     or name in u.word and u.word not in lex.domain_words]  # 示范企业 is a topic of 进企业
            place_words.extend(w for w in typed if w not in place_words)
    units = [Unit(u.word, u.alternatives, u.weight, "place") if u.word in place_words and u.kind != "scope" else u
             for u in units]
    for word in scope:  # 放几天假, 社保卡补办: an out-of-scope topic across jieba's cuts
        if word in plain and not any(word in u.word or u.word in word and u.kind == "scope" for u in units):
            units.append(Unit(word, (word,), UNKNOWN_WEIGHT, "scope"))
    aspect = next((name for name, (asks, _) in ASPECTS.items() if asks.search(plain)), None)
    return Question(text, plain, tokens, units, aspect, places, place_words)


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
    lead: list[str] = field(default_factory=list)  # the answering sentences, in document order
    section: bool = False  # the question asks about a whole section: answer with its summary and items
    decided: bool = False  # the calibrated decision: this clause answers the question
    reasons: list[str] = field(default_factory=list)  # why, in Chinese, for the console
    question: Question | None = None
    evidence: tuple[str, str] = ("", "")  # the answer's sentences with heading and path, and its clause's text

    @property
    def answered(self) -> bool:
        return self.faq is not None or (bool(self.hits) and self.decided)

    @property
    def best(self) -> Hit | None:
        return self.hits[0] if self.hits else None


def query_tokens(text: str, mode: str = MODE) -> list[str]:
    """Normalise, cut, fix homophone slips, add the policy's words for colloquial ones, tokenise."""
    return tokenize(expand_synonyms(fix_homophones(normalize(text)[:MAX_QUERY_CHARS])), mode)


def _covered(word: str, plain: str) -> float:
    """How much of `word` a text holds: 1 for the word itself, else the share of its character pairs."""
    if word in plain:
        return 1.0
    if len(word) < 3:
        return 0.0
    pairs = [word[i:i + 2] for i in range(len(word) - 1)]
    share = sum(p in plain for p in pairs) / len(pairs)
    return share if share >= 0.5 else 0.0


def coverage(question: Question, plain: str, clause: str = "") -> float:
    """The weighted share of the question's meaning-bearing words that `plain` (the answering sentences with
    their clause's heading and path) holds, a colloquial word counting when the policy's word for it is there;
    a word found only elsewhere in the clause counts CLAUSE_CREDIT."""
    total = sum(u.weight for u in question.units)
    if not total:
        return 0.0
    held = 0.0
    for u in question.units:
        here = max(_covered(a, plain) for a in u.alternatives)
        if here < 1 and clause:
            here = max(here, CLAUSE_CREDIT * max(_covered(a, clause) for a in u.alternatives))
        held += u.weight * here
    return held / total


def _defining(index: Index, question: Question, candidates: list[tuple[int, float]]) -> set[int]:
    """The clauses whose own heading names what a "what is" question asks about (示范走廊是什么 → the item headed
    纵深推进“示范走廊”创建行动): their opening sentence is the definition."""
    words = [a for u in question.topic for a in u.alternatives]
    return {i for i, _ in candidates if any(w in normalize(index.entries[i].heading) for w in words)}


def _by_coverage(index: Index, question: Question, scored: list[tuple[float, int, int]],
                 own: Question | None = None) -> list[tuple[float, int, int]]:
    """The best-scored sentences again, each score weighed by how much of the question the sentence (with its
    heading and path) covers: a sentence that answers every part of a long question beats one that repeats a
    single word of it often (宗教场所能乱塑佛像吗 is about 乱塑佛像 more than about 宗教场所). In a follow-up
    its `own` words weigh as they do in the score (还要宣传啥 must find 宣传)."""
    weighed = []
    for score, i, n in scored:
        plain = index.sentences[i][n].plain + " " + index.context[i]
        held = coverage(question, plain)
        if own is not None and own.units:
            held = (FOLLOW_EARLIER * held + FOLLOW_OWN * coverage(own, plain)) / (FOLLOW_EARLIER + FOLLOW_OWN)
        weighed.append((score * (COVER_SHARE + held), i, n))
    weighed.sort(key=lambda x: (-x[0], x[1], x[2]))
    return weighed


def _trim(sentence: str, terms: set[str], mode: str) -> str:
    """A sentence longer than LEAD_CHARS cut to its comma-separated parts around the best-matching one."""
    if len(sentence) <= LEAD_CHARS + 30:
        return sentence
    parts = re.split(r"(?<=[，,：:])", sentence)
    scores = [len(terms & set(tokenize(normalize(p), mode))) for p in parts]
    best = max(range(len(parts)), key=lambda i: (scores[i], -i))
    lo = hi = best
    while True:
        grown = False
        for cand in (hi + 1, lo - 1):
            if 0 <= cand < len(parts) and sum(len(p) for p in parts[min(lo, cand):max(hi, cand) + 1]) <= LEAD_CHARS:
                lo, hi, grown = min(lo, cand), max(hi, cand), True
                break
        if not grown:
            break
    text = "".join(parts[lo:hi + 1]).rstrip("，,：:")
    return ("…" if lo > 0 else "") + text + ("…" if hi < len(parts) - 1 else "")


def search_index(index: Index, text: str, limit: int = 3, sections: bool = True, follow: str | None = None,
                 near: Iterable[int] = (), seen: Sequence[str] = (), within: Iterable[int] = ()) -> SearchResult:
    """Rank sentences inside the best clauses and decide whether the best one answers `text`.

    Clauses are ranked by BM25 (heading and path included); their sentences are scored by their own BM25 plus
    CLAUSE_SHARE of the clause's, more for the kind of sentence the question asks for (a number, who, a rule) and
    for clauses under a section the question names. The decision is explainable: the best sentence (with its
    heading and path) must cover COVERAGE_MIN of the question's meaning-bearing words, and the question must not
    be about another public service (out-of-scope topics the policy never mentions). A follow-up may be answered
    only `within` some clauses (the section of a place it names, the neighbourhood of the last answer).
    """
    question = analyse(index, text)
    terms = set(question.tokens)
    inside = section_members(index, question.places) if question.places else set()
    ranked = index.rank(question.tokens, inside, PLACE_BOOST, RANKED_MAX)
    within = set(within)
    if within and any(i in within for i, _ in ranked):
        ranked = [(i, s) for i, s in ranked if i in within]
    if not ranked:
        return SearchResult(text, [], 0.0, reasons=["问题里没有政策用语"], question=question)
    top = ranked[0][1] or 1.0
    own_question = analyse(index, follow) if follow is not None else None
    asking = own_question if own_question is not None and own_question.aspect else question
    aspect = _answer_pattern(asking)  # a follow-up asks its own kind of question (去哪学 after 学哪些历史)
    bonus = FOLLOW_ASPECT_BONUS if asking is own_question else ASPECT_BONUS
    scored: list[tuple[float, int, int]] = []  # (score, clause position, sentence number)
    candidates = ranked if sections else [(i, s) for i, s in ranked if i not in index.children]
    near = set(near)
    defining = _defining(index, question, candidates[:CANDIDATES]) if question.aspect == "what" else set()
    if follow is not None:  # a follow-up: its own words decide among the sentences near the last answer
        own = set(query_tokens(follow, index.mode))
        chosen = candidates[:CANDIDATES]
        listed = {i for i, _ in chosen}
        scores = dict(ranked)
        chosen += [(i, scores.get(i, 0.0)) for i in sorted(near - listed) if sections or i not in index.children]
        candidates = chosen
    for i, clause_score in candidates[:CANDIDATES + len(near)]:
        context_hits = terms & index.context_terms[i]
        for n, sentence in enumerate(index.sentences[i]):
            score = index.sentence_score(terms, sentence)
            score += CONTEXT_SHARE * sum(index.idf.get(t, 0.0) for t in context_hits - sentence.terms)
            if i not in index.children:  # a section's score holds its items' headings: not this sentence's merit
                score += CLAUSE_SHARE * clause_score
            if follow is not None:  # the earlier question found the neighbourhood; the follow-up's words pick
                score = FOLLOW_EARLIER * score + FOLLOW_OWN * index.sentence_score(own, sentence)
                if i in near:
                    score *= NEAR_BOOST
                if any(part.strip("…") in sentence.text for part in seen):  # the resident has read it
                    score *= REPEAT_FACTOR
            if aspect is not None and (aspect.search(sentence.text) or n == 0 and i in defining):
                score *= 1 + bonus
            if i in inside:
                score *= PLACE_BOOST
            scored.append((score, i, n))
    scored.sort(key=lambda x: (-x[0], x[1], x[2]))
    scored[:RERANKED] = _by_coverage(index, question, scored[:RERANKED], own_question)
    section = _section_asked(index, question) if sections else None
    if section is not None:
        best_pos, lead = section, _summary(index, section)
    elif scored:
        best_score, best_pos, best_n = scored[0]
        picked = [best_n]
        for score, i, n in scored[1:4]:
            if i == best_pos and score >= 0.7 * best_score and abs(n - best_n) == 1:
                picked.append(n)
                break
        lead = [_trim(index.sentences[best_pos][n].text, terms, index.mode) for n in sorted(picked)]
        if sum(len(s) for s in lead) > LEAD_CHARS + 30:
            lead = [_trim(index.sentences[best_pos][best_n].text, terms, index.mode)]
    else:
        best_pos, lead = ranked[0][0], _summary(index, ranked[0][0])
    plain = normalize(" ".join(lead)) + " " + index.context[best_pos]
    evidence = (plain, normalize(index.entries[best_pos].text))
    cover = coverage(question, *evidence)
    order = [best_pos] + [i for i, _ in ranked if i != best_pos]
    scores = dict(ranked)
    hits = [Hit(index.entries[i], scores.get(i, 0.0), cover if i == best_pos else 0.0) for i in order[:limit]]
    scope = question.out_of_scope
    reasons = [f"最佳句子覆盖问题要点 {cover:.0%}"]
    if scope:
        reasons.append("问的是" + "、".join(scope) + "，不在本政策范围内")
    if not question.units:
        reasons.append("问题里没有具体内容")
    decided = bool(question.units) and not scope and cover >= COVERAGE_MIN
    if len(ranked) > 1:
        reasons.append(f"与第二名的分差 {(ranked[0][1] - ranked[1][1]) / top:.0%}")
    return SearchResult(text, hits, cover, lead=lead, section=section is not None, decided=decided,
                        reasons=reasons, question=question, evidence=evidence)


def overview(index: Index, position: int, text: str) -> SearchResult:
    """The section at `position` answered as a whole (its summary and items): the reply to 那部队呢 when the
    earlier question has no answer in that place, rather than 没有找到 for a place the policy does cover."""
    hit = Hit(index.entries[position], 1.0, 1.0)
    return SearchResult(text, [hit], 1.0, lead=_summary(index, position), section=True, decided=True,
                        reasons=["追问的地方没有对应内容，给出该部分概要"], question=analyse(index, text))


_MORE = re.compile(r"哪些|具体|还有|还要|还得|还能|还可以|别的|其他|其它|另外")


def asks_for_more(text: str) -> bool:
    """A follow-up that asks for what the last answer did not say (具体有哪些活动, 还有呢)."""
    return bool(_MORE.search(normalize(text)))


def position_of(index: Index, result: SearchResult) -> int | None:
    """Where the best clause of `result` is in the index."""
    if result.best is None:
        return None
    return next((i for i, e in enumerate(index.entries) if e.id == result.best.entry.id), None)


def neighbourhood(index: Index, result: SearchResult) -> set[int]:
    """The clauses around an answer a follow-up may continue in: the answered section with its items, or the
    answering clause with its parent section's other items."""
    position = position_of(index, result)
    if position is None:
        return set()
    if result.section:
        return section_members(index, [position])
    parent = result.best.entry.parent_id
    up = next((i for i, e in enumerate(index.entries) if e.id == parent), None) if parent is not None else None
    return section_members(index, [up]) if up is not None else {position}


def section_members(index: Index, sections: Iterable[int]) -> set[int]:
    """The clauses of the given sections, their items and the items' items."""
    members, stack = set(), list(sections)
    while stack:
        i = stack.pop()
        members.add(i)
        stack.extend(index.children.get(i, ()))
    return members


def _section_asked(index: Index, question: Question) -> int | None:
    """The section a question asks about as a whole (进社区要做什么): it names exactly one section and nothing
    more particular than policy words that fit every section, and does not ask for a number, a body or a rule."""
    if len(question.places) != 1 or question.topic or question.aspect in ("number", "who"):
        return None
    return question.places[0]


def _summary(index: Index, position: int) -> list[str]:
    """A section's opening sentence(s), within about LEAD_CHARS."""
    out: list[str] = []
    for sentence in index.sentences[position]:
        if out and sum(len(s) for s in out) + len(sentence.text) > LEAD_CHARS:
            break
        out.append(sentence.text)
    return [_trim(s, set(), index.mode) for s in out]


@dataclass(frozen=True)
class FollowUp:
    """How a message reads after the last answered question: `asked` is the question to search for, `kind` is
    "new" (self-contained), "place" (the earlier question of a new place), "aspect" (no topic of its own: a number,
    who, a pronoun, 具体怎么帮) or "topic" (words of its own that only make sense with the earlier topic)."""

    asked: str
    kind: str
    places: tuple[int, ...] = ()  # for "place": the sections named


def resolve_follow_up(index: Index, text: str, previous: str | None) -> FollowUp:
    """The question `text` means after `previous` (the last question answered, within the follow-up window).

    A short message naming only a new place (那学校呢) asks the earlier question of that place; one with no topic
    of its own (一年几次, 谁负责, 它跟七进啥关系) continues the earlier question. A message with words of its own
    continues it when the answer then also holds its own words (周末去哪里玩 is no follow-up of 党史军史), unless,
    longer than a few characters and not worded as a follow-up (那…呢, 它…), it is answered better alone and away
    from the last answer's section. A role word of the same place (学校… → 老师呢) is a topic, not a new place.
    """
    alone = FollowUp(text, "new")
    if not previous or len(normalize(text)) > FOLLOW_UP_MAX_CHARS:
        return alone
    previous = previous[:MAX_QUERY_CHARS - FOLLOW_UP_MAX_CHARS - 1]  # a long chain keeps its first question
    question = analyse(index, text)
    before = analyse(index, previous)
    new_places = [p for p in question.places if p not in before.places]
    if new_places and not question.topic:  # the earlier question of the new place, without the old place's words
        merged = previous
        for word in before.place_words:
            merged = merged.replace(word, question.place_words[0] if question.place_words else "")
        there = " ".join(normalize(index.entries[i].heading + " " + index.entries[i].text)
                         for i in section_members(index, new_places))
        elsewhere = [u for u in before.topic if u.kind == "topic" and not any(a in there for a in u.alternatives)]
        if len(elsewhere) < len([u for u in before.topic if u.kind == "topic"]):  # keep at least one topic word
            for unit in elsewhere:
                merged = merged.replace(unit.word, "")  # 宣传月 belongs to 进社区, not to 进学校
        return FollowUp(f"{merged} {text}", "place", tuple(new_places))
    own = [u for u in question.units if u.kind != "generic" and len(u.word) > 1]
    if not own:  # an aspect (一年几次), a pronoun, or 具体怎么帮
        return FollowUp(f"{previous} {text}", "aspect")
    if new_places:
        return alone
    combined = f"{previous} {text}"
    result = search_index(index, combined)
    held = coverage(question, *result.evidence) if result.evidence else 0.0
    if not result.decided or held < COVERAGE_MIN:
        return alone
    shaped = bool(_FOLLOW_START.search(question.plain) or _FOLLOW_END.search(question.plain)
                  or _PRONOUN.search(question.plain))  # 那…呢, 它…: worded as a follow-up
    if len(question.plain) > SHORT_FOLLOW_UP and not shaped:  # weigh: is it answered better alone, elsewhere?
        first = search_index(index, text)
        around = neighbourhood(index, search_index(index, previous))
        if first.decided and first.confidence > held and position_of(index, result) not in around:
            return alone
    return FollowUp(combined, "topic")


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
