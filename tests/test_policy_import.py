"""Parsing Chinese official documents into clause trees, and idempotent, versioned imports."""
from __future__ import annotations

import io
import zipfile

import pytest
from sqlalchemy import func, select

from models.policy import PolicyClause, PolicyDocument
from service.core.config import DEFAULT_SEED
from service.policy import importer
from service.policy.importer import (PolicyParseError, ensure_seed, import_document, parse_policy, read_document)

SEED = DEFAULT_SEED.read_text(encoding="utf-8")


def _paths(text: str) -> list[str]:
    return [c.path for c in parse_policy(text)]


def test_seed_parses_into_the_expected_tree():
    clauses = parse_policy(SEED)
    paths = [c.path for c in clauses]
    assert paths[0] == "前言"
    assert [c.label for c in clauses if c.level == 1] == ["前言", "一、总体要求", "二、主要任务", "三、具体要求", "四、保障措施"]
    assert "三、具体要求 › (五)进学校 › 2.深化教育载体途径" in paths
    sections = [c.heading for c in clauses if c.path.startswith("三、") and c.level == 2]
    assert sections == ["进机关", "进企业", "进社区", "进乡镇", "进学校", "进连队", "进宗教活动场所"]
    assert len(clauses) == 41


def test_seed_heading_without_number_becomes_the_second_item():
    clauses = parse_policy(SEED)
    enterprise = next(c for c in clauses if c.heading == "进企业")
    assert enterprise.number == "(二)" and enterprise.ordinal == 2 and enterprise.inferred
    assert clauses[enterprise.parent].label == "三、具体要求"
    children = [c.label for c in clauses if c.parent == clauses.index(enterprise)]
    assert children == ["1.深化民族团结进步宣传教育", "2.积极开展公益活动", "3.扎实开展联创共建"]


def test_clause_keeps_heading_and_text_apart():
    clause = next(c for c in parse_policy(SEED) if c.path.endswith("2.深化教育载体途径"))
    assert clause.heading == "深化教育载体途径"
    assert clause.text.startswith("大力实施铸牢中华民族共同体意识“石榴籽”工程")


def test_brackets_widths_blank_lines_and_all_four_levels():
    text = ("一、总则\n\n\n（一）适用范围。本办法适用于全区。\n1、机关单位。正文甲。\n（1）细则一。正文乙\n"
            "(2)细则二。正文丙\n２．企业。正文丁\n(二) 附则\n二、实施\n本节说明。\n")
    assert _paths(text) == ["一、总则", "一、总则 › (一)适用范围", "一、总则 › (一)适用范围 › 1.机关单位",
                            "一、总则 › (一)适用范围 › 1.机关单位 › (1)细则一",
                            "一、总则 › (一)适用范围 › 1.机关单位 › (2)细则二",
                            "一、总则 › (一)适用范围 › 2.企业", "一、总则 › (二)附则", "二、实施"]
    assert parse_policy(text)[-1].text == "本节说明。"


def test_missing_numbers_are_tolerated():
    text = "一、甲\n（一）子一\n1.条一。内容\n（三）子三\n1.条二。内容\n三、丙\n内容\n"
    assert _paths(text)[-1] == "三、丙"
    assert [c.ordinal for c in parse_policy(text)] == [1, 1, 1, 2, 1, 2]


@pytest.mark.parametrize("text, line", [
    ("", 1),
    ("   \n\n", 1),
    ("只有一段话，没有任何编号。\n第二段。\n", 1),
    ("一、甲\n（一）子一\n（二）子二\n（二）又是子二\n", 4),
    ("一、甲\n二、乙\n内容\n一、又回到甲\n", 4),
    ("一、甲\n1.\n", 2),
    ("一、甲\n乱码\x00行\n", 2),
])
def test_malformed_documents_name_the_line(text, line):
    with pytest.raises(PolicyParseError) as info:
        parse_policy(text)
    assert info.value.line == line
    assert f"第{line}行" in str(info.value)


def test_import_is_idempotent_and_versioned(session):
    first = import_document(session, "方案", SEED, "seed.txt")
    assert (first.status, first.version, first.clause_count) == ("created", 1, 41)
    again = import_document(session, "方案", SEED.replace("\n", "\r\n") + "\n\n", "seed.txt")
    assert (again.status, again.document_id) == ("unchanged", first.document_id)
    assert session.scalar(select(func.count(PolicyClause.id))) == 41

    changed = SEED.replace("每年研究部署民族团结进步创建工作不少于2次", "每年研究部署民族团结进步创建工作不少于3次")
    second = import_document(session, "方案", changed, "seed.txt")
    assert (second.status, second.version) == ("updated", 2)
    docs = session.scalars(select(PolicyDocument).order_by(PolicyDocument.id)).all()
    assert [(d.version, d.is_current) for d in docs] == [(1, False), (2, True)]
    assert session.scalar(select(func.count(PolicyClause.id))) == 82  # history keeps the old clauses
    current = session.scalars(select(PolicyClause.text).join(PolicyDocument)
                              .where(PolicyDocument.is_current.is_(True))).all()
    assert any("不少于3次" in t for t in current) and not any("不少于2次" in t for t in current)


def test_parent_links_are_stored(session):
    result = import_document(session, "方案", SEED, "seed.txt")
    item = session.scalar(select(PolicyClause).where(PolicyClause.document_id == result.document_id,
                                                     PolicyClause.path.like("%2.深化教育载体途径")))
    assert item.parent.heading == "进学校" and item.parent.parent.label == "三、具体要求"
    assert item.level == 3 and item.number == "2."


def test_malformed_import_changes_nothing(session):
    import_document(session, "方案", SEED, "seed.txt")
    broken = SEED + "\n（一）重复的编号\n"
    with pytest.raises(PolicyParseError) as info:
        import_document(session, "方案", broken, "seed.txt")
    assert info.value.line == broken.split("\n").index("（一）重复的编号") + 1
    docs = session.scalars(select(PolicyDocument)).all()
    assert [(d.version, d.is_current) for d in docs] == [(1, True)]


def test_ensure_seed_only_on_first_start(session):
    assert ensure_seed(session).clause_count == 41
    assert ensure_seed(session) is None
    assert session.scalar(select(func.count(PolicyDocument.id))) == 1


def test_readers_for_markdown_and_docx():
    md = "# 方案\n\n## 一、总则\n\n**（一）适用范围。**本办法适用于全区。\n\n- 1. 机关。正文\n"
    assert _paths(read_document("a.md", md.encode())) == [
        "前言", "一、总则", "一、总则 › (一)适用范围", "一、总则 › (一)适用范围 › 1.机关"]
    import docx

    document = docx.Document()
    for line in ("一、总则", "（一）适用范围。全区。", "二、附则", "本办法自发布之日起施行。"):
        document.add_paragraph(line)
    buf = io.BytesIO()
    document.save(buf)
    assert _paths(read_document("a.docx", buf.getvalue())) == ["一、总则", "一、总则 › (一)适用范围", "二、附则"]
    assert _paths(read_document("a.txt", "一、总则\n内容\n".encode("gb18030"))) == ["一、总则"]
    with pytest.raises(PolicyParseError):
        read_document("a.pdf", b"%PDF")
    with pytest.raises(PolicyParseError):
        read_document("a.docx", b"not a zip")


def _docx_with(extra: dict[str, bytes], body_padding: int = 0) -> bytes:
    """A valid .docx (python-docx), its document.xml padded with `body_padding` spaces, plus `extra` members."""
    import docx

    document = docx.Document()
    document.add_paragraph("一、总则")
    buf = io.BytesIO()
    document.save(buf)
    out = io.BytesIO()
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "word/document.xml" and body_padding:
                data = data.replace(b"<w:body>", b"<w:body>" + b" " * body_padding, 1)
            dst.writestr(info.filename, data)
        for name, data in extra.items():
            dst.writestr(name, data)
    return out.getvalue()


@pytest.mark.parametrize("make, says", [
    (lambda: _docx_with({}, body_padding=importer.DOCX_MAX_MEMBER_BYTES + 1), "单个部分解压后超过 10 MB"),
    (lambda: _docx_with({f"word/media/pad{i}.bin": b"\0" * (9 * 1024 * 1024) for i in range(3)}), "解压后超过 25 MB"),
    (lambda: _docx_with({f"extra/part{i}.xml": b"" for i in range(importer.DOCX_MAX_MEMBERS)}), "文件过多"),
])
def test_docx_zip_bombs_are_refused_before_reading(make, says, monkeypatch):
    data = make()
    assert len(data) < 2 * 1024 * 1024  # small enough to pass the upload limit
    assert read_document("ok.docx", _docx_with({})) == "一、总则"  # the same file without the padding reads
    inflated: list[str] = []
    real_open = zipfile.ZipFile.open
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda self, name, *a, **kw: (inflated.append(str(name)),
                                                                                real_open(self, name, *a, **kw))[1])
    with pytest.raises(PolicyParseError, match=says):
        read_document("bomb.docx", data)
    assert inflated == []  # refused from the zip directory, nothing decompressed
