"""Split Chinese official documents into a tree of numbered clauses (pure) and store them as versioned documents.

Numbering ranks, outermost first: `一、` → `(一)` → `1.`/`1、` → `(1)`; full-width brackets, digits and dots are
accepted. A short unnumbered line that stands where a `(二)`-style heading should be (the seed's bare `进企业`,
followed by its `1.` items) becomes that missing item; other unnumbered lines are paragraphs of the clause above.
"""
from __future__ import annotations

import hashlib
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.policy import PolicyClause, PolicyDocument
from service.core.config import DEFAULT_SEED, Settings
from service.core.textfit import unix_newlines

PATH_SEP = " › "
SEED_TITLE = "民族团结进步创建“七进”活动行动方案"
SEED_SOURCE = "policy_seed.txt"
PREAMBLE_HEADING = "前言"
MAX_HEADING = 60  # a first sentence longer than this is not a heading
SHORT_LINE = 20  # an unnumbered line this short without punctuation may be a heading
# A .docx is a zip: refuse archives that would expand beyond these before any member is read (zip bombs). A long
# policy's document.xml is well under 1 MB; Python's zipfile never inflates a member past its declared size.
DOCX_MAX_MEMBERS = 500
DOCX_MAX_MEMBER_BYTES = 10 * 1024 * 1024
DOCX_MAX_TOTAL_BYTES = 25 * 1024 * 1024

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN = "一二三四五六七八九十"
# rank → (pattern, label format); ranks are the document's numbering styles, outermost first
_PATTERNS: list[tuple[int, re.Pattern[str]]] = [
    (1, re.compile(rf"^([{_CN}]{{1,3}})\s*[、.]\s*(.*)$")),
    (2, re.compile(rf"^\(\s*([{_CN}]{{1,3}})\s*\)\s*[、.]?\s*(.*)$")),
    (3, re.compile(r"^(\d{1,3})\s*[、.](?!\d)\s*(.*)$")),
    (4, re.compile(r"^\(\s*(\d{1,3})\s*\)\s*[、.]?\s*(.*)$")),
]
_SENTENCE_END = re.compile(r"[。；;！!？?]")
_PUNCT = re.compile(r"[，,。；;：:！!？?、“”\"]")


class PolicyParseError(ValueError):
    """The document could not be split into clauses; `line` is 1-based."""

    def __init__(self, line: int, msg: str):
        super().__init__(f"第{line}行：{msg}")
        self.line = line
        self.msg = msg


@dataclass
class ParsedClause:
    level: int  # depth in the tree, 1 = top
    rank: int  # numbering style, 0 = preamble
    number: str  # canonical label: 三、 (五) 2. (1); "" for the preamble
    value: Optional[int]  # numeric value of the number, None for the preamble
    heading: str
    text: str
    line: int
    parent: Optional[int] = None  # index into the parsed list
    ordinal: int = 1
    path: str = ""
    inferred: bool = False  # the number was missing in the source

    @property
    def label(self) -> str:
        return f"{self.number}{self.heading}"


@dataclass
class ImportResult:
    status: str  # "created" | "updated" | "unchanged"
    document_id: int
    version: int
    clause_count: int
    title: str  # the document's


def cn_to_int(numeral: str) -> int:
    """一 → 1, 十 → 10, 十二 → 12, 二十三 → 23 (enough for document numbering)."""
    if "十" not in numeral:
        value = 0
        for ch in numeral:
            value = value * 10 + _CN_DIGITS[ch]
        return value
    tens, _, ones = numeral.partition("十")
    return (_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[ones] if ones else 0)


def int_to_cn(value: int) -> str:
    if value < 10:
        return _CN[value - 1] if value > 0 else "零"
    tens, ones = divmod(value, 10)
    return ("" if tens == 1 else _CN[tens - 1]) + "十" + (_CN[ones - 1] if ones else "")


def format_number(rank: int, value: int) -> str:
    return {1: f"{int_to_cn(value)}、", 2: f"({int_to_cn(value)})", 3: f"{value}.", 4: f"({value})"}[rank]


def normalize_text(text: str) -> str:
    """Canonical form used for hashing and parsing: no BOM, \\n line ends, no trailing blanks."""
    text = unix_newlines(text.lstrip("\ufeff"))
    lines = [line.rstrip() for line in text.split("\n")]
    return "\n".join(lines).rstrip("\n") + "\n"  # leading lines stay, so error line numbers match the file


def _normalize_line(line: str) -> str:
    # full-width brackets/digits/dots → ASCII; keep Chinese punctuation like 、。 as is
    line = line.strip().strip("\u3000")
    return line.translate(_WIDTH).strip()


_WIDTH = str.maketrans({"（": "(", "）": ")", "．": ".", **{chr(0xFF10 + i): str(i) for i in range(10)}, "\u3000": " "})


def _match_number(line: str) -> tuple[int, int, str] | None:
    for rank, pattern in _PATTERNS:
        m = pattern.match(line)
        if m:
            raw = m.group(1)
            value = int(raw) if raw.isdigit() else cn_to_int(raw)
            return rank, value, m.group(2).strip()
    return None


def _split_heading(rest: str) -> tuple[str, str]:
    """'进机关' → heading only; '加大力度。正文…' → (加大力度, 正文…); a long first sentence stays text."""
    if not rest:
        return "", ""
    m = _SENTENCE_END.search(rest)
    if m is None:
        if len(rest) <= MAX_HEADING:
            return rest, ""
        return "", rest
    if m.start() <= MAX_HEADING:
        return rest[:m.start()], rest[m.end():].strip()
    return "", rest


def _is_heading_like(line: str) -> bool:
    return 0 < len(line) <= SHORT_LINE and not _PUNCT.search(line)


def parse_policy(text: str) -> list[ParsedClause]:
    """Split a document into clauses in document order; raises PolicyParseError(line, msg) on malformed input."""
    if not text or not text.strip():
        raise PolicyParseError(1, "文档为空")
    lines = normalize_text(text).split("\n")
    clauses: list[ParsedClause] = []
    stack: list[int] = []  # indexes of open clauses, outermost first
    heading_only_rank: int | None = None
    preamble: list[str] = []

    def next_numbered(after: int) -> tuple[int, int, str] | None:
        for j in range(after + 1, len(lines)):
            candidate = _normalize_line(lines[j])
            if candidate:
                return _match_number(candidate)
        return None

    def open_clause(rank: int, value: int, heading: str, body: str, lineno: int, inferred: bool) -> None:
        while stack and clauses[stack[-1]].rank >= rank:
            stack.pop()
        parent = stack[-1] if stack else None
        siblings = [c for c in clauses if c.parent == parent and c.rank == rank and c.value is not None]
        if siblings and value <= siblings[-1].value:
            raise PolicyParseError(lineno, f"编号“{format_number(rank, value)}”重复或倒退（上一项是“{siblings[-1].number}”）")
        ordinal = 1 + sum(1 for c in clauses if c.parent == parent)
        clause = ParsedClause(level=len(stack) + 1, rank=rank, number=format_number(rank, value), value=value,
                              heading=heading, text=body, line=lineno, parent=parent, ordinal=ordinal,
                              inferred=inferred)
        clause.path = (clauses[parent].path + PATH_SEP if parent is not None else "") + clause.label
        clauses.append(clause)
        stack.append(len(clauses) - 1)

    for i, raw in enumerate(lines):
        lineno = i + 1
        if "\x00" in raw or "\ufffd" in raw:
            raise PolicyParseError(lineno, "包含无法识别的字符，文件可能不是文本或编码不对（请用 UTF-8）")
        line = _normalize_line(raw)
        if not line:
            continue
        numbered = _match_number(line)
        if numbered:
            rank, value, rest = numbered
            heading, body = _split_heading(rest)
            if not heading and not body:
                raise PolicyParseError(lineno, f"编号“{format_number(rank, value)}”后面没有内容")
            open_clause(rank, value, heading, body, lineno, False)
            if rank >= 2 and not body:
                heading_only_rank = rank
            continue
        if stack and heading_only_rank is not None and _is_heading_like(line):
            following = next_numbered(i)
            if following and following[0] > heading_only_rank and any(
                    clauses[k].rank < heading_only_rank for k in stack):
                parent = next(k for k in reversed(stack) if clauses[k].rank < heading_only_rank)
                previous = [c for c in clauses if c.parent == parent and c.rank == heading_only_rank]
                value = (previous[-1].value or 0) + 1 if previous else 1
                open_clause(heading_only_rank, value, line, "", lineno, True)
                continue
        if stack:
            current = clauses[stack[-1]]
            current.text = f"{current.text}\n{line}" if current.text else line
        else:
            preamble.append(line)

    if not clauses:
        raise PolicyParseError(1, "没有找到任何编号条款（如“一、”“(一)”“1.”）")
    if preamble:
        intro = ParsedClause(level=1, rank=0, number="", value=None, heading=PREAMBLE_HEADING,
                             text="\n".join(preamble), line=1, path=PREAMBLE_HEADING)
        for c in clauses:
            if c.parent is not None:
                c.parent += 1
            else:
                c.ordinal += 1
        clauses.insert(0, intro)
    return clauses


# ---- readers -------------------------------------------------------------------------------------------------

_MD_PREFIX = re.compile(r"^\s{0,3}(#{1,6}\s+|>\s*|[-*+]\s+(?=\S))")


def read_markdown(text: str) -> str:
    """Drop Markdown decoration (#, >, bullets, **bold**) and keep the numbered lines as they are."""
    out = []
    for line in unix_newlines(text).split("\n"):
        line = _MD_PREFIX.sub("", line)
        line = line.replace("**", "").replace("__", "")
        out.append(line)
    return "\n".join(out)


def check_docx_size(data: bytes) -> None:
    """Refuse a .docx whose members are too many or would expand too far, from the zip directory alone."""
    try:
        members = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, ValueError) as exc:
        raise PolicyParseError(1, f"无法读取 Word 文档：{exc.__class__.__name__}") from exc
    mib = 1024 * 1024
    if len(members) > DOCX_MAX_MEMBERS:
        raise PolicyParseError(1, f"Word 文档包含的文件过多（超过 {DOCX_MAX_MEMBERS} 个），已拒绝读取")
    if any(m.file_size > DOCX_MAX_MEMBER_BYTES for m in members):
        raise PolicyParseError(1, f"Word 文档中有单个部分解压后超过 {DOCX_MAX_MEMBER_BYTES // mib} MB，已拒绝读取")
    if sum(m.file_size for m in members) > DOCX_MAX_TOTAL_BYTES:
        raise PolicyParseError(1, f"Word 文档解压后超过 {DOCX_MAX_TOTAL_BYTES // mib} MB，已拒绝读取")


def read_docx(data: bytes) -> str:
    """The paragraphs of a .docx, one per line (python-docx); tables are read row by row."""
    import docx  # python-docx; imported lazily, only imports need it

    check_docx_size(data)
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises several types for a broken zip/XML
        raise PolicyParseError(1, f"无法读取 Word 文档：{exc.__class__.__name__}") from exc
    lines = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            lines.append(" ".join(cell.text for cell in row.cells))
    return "\n".join(lines)


def read_document(name: str, data: bytes) -> str:
    """Text of an uploaded .txt/.md/.docx file; raises PolicyParseError for unknown types or bad encodings."""
    suffix = Path(name).suffix.lower()
    if suffix == ".docx":
        return read_docx(data)
    if suffix not in {".txt", ".md", ".markdown", ""}:
        raise PolicyParseError(1, f"不支持的文件类型“{suffix}”，请使用 .txt、.md 或 .docx")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise PolicyParseError(1, "文件编码无法识别，请保存为 UTF-8")
    return read_markdown(text) if suffix in {".md", ".markdown"} else text


def title_from_name(name: str) -> str:
    return Path(name).stem or name


# ---- storage -------------------------------------------------------------------------------------------------

def content_hash(text: str) -> str:
    return hashlib.sha256(normalize_text(text).encode("utf-8")).hexdigest()


def import_document(session: Session, title: str, text: str, source: str) -> ImportResult:
    """Store `text` as the current version of `source`; the same text again changes nothing.

    A changed text adds a new version and marks the previous one not current (it stays, with its clauses, as
    history). Parsing happens before any write, so a malformed document leaves the knowledge base untouched.
    """
    digest = content_hash(text)
    current = session.scalars(select(PolicyDocument).where(PolicyDocument.source_name == source,
                                                           PolicyDocument.is_current.is_(True))).all()
    for doc in current:
        if doc.content_hash == digest:
            count = session.scalar(select(func.count(PolicyClause.id)).where(PolicyClause.document_id == doc.id))
            return ImportResult("unchanged", doc.id, doc.version, count or 0, doc.title)
    parsed = parse_policy(text)
    latest = session.scalar(select(func.max(PolicyDocument.version)).where(PolicyDocument.source_name == source))
    for doc in current:
        doc.is_current = False
    document = PolicyDocument(title=title, source_name=source, content_hash=digest, version=(latest or 0) + 1,
                              is_current=True)
    session.add(document)
    rows: list[PolicyClause] = []
    for position, clause in enumerate(parsed):
        row = PolicyClause(document=document, position=position, ordinal=clause.ordinal, level=clause.level,
                           number=clause.number, heading=clause.heading, text=clause.text, path=clause.path,
                           parent=rows[clause.parent] if clause.parent is not None else None)
        rows.append(row)
        session.add(row)
    session.flush()
    return ImportResult("updated" if latest else "created", document.id, document.version, len(rows), title)


def ensure_seed(session: Session, path: Path = DEFAULT_SEED) -> ImportResult | None:
    """Import the shipped policy text when the knowledge base has no document at all (first start)."""
    if session.scalar(select(func.count(PolicyDocument.id))):
        return None
    return import_document(session, SEED_TITLE, Path(path).read_text(encoding="utf-8"), SEED_SOURCE)


def bootstrap_seed(session: Session, settings: Settings) -> str:
    """Bootstrap step: the shipped policy text becomes the knowledge base on first start."""
    result = ensure_seed(session)
    if result is None:
        return "policy knowledge base already present"
    return f"policy seed imported: {result.clause_count} clauses"


def import_file(session: Session, path: Path, title: str | None = None) -> ImportResult:
    """Import a .txt/.md/.docx file from disk (the CLI), keyed by its file name."""
    path = Path(path)
    text = read_document(path.name, path.read_bytes())
    return import_document(session, title or title_from_name(path.name), text, path.name)
