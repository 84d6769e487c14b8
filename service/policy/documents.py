"""Read side of the policy knowledge base for the console: documents with their versions, a clause tree, uploads."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.policy import PolicyClause, PolicyDocument
from service.core.errors import InvalidInput, NotFound

UPLOAD_TYPES = {".txt", ".md", ".markdown", ".docx"}
MAX_UPLOAD_BYTES = 2 * 1024 * 1024  # a policy text is tens of KiB; a Word file with styles a few hundred


@dataclass(frozen=True)
class DocumentRow:
    document: PolicyDocument
    clause_count: int


@dataclass
class ClauseNode:
    clause: PolicyClause
    children: list["ClauseNode"] = field(default_factory=list)


def list_documents(session: Session, current_only: bool = False) -> list[DocumentRow]:
    """Every imported version (current first, then by source and newest version), with its clause count."""
    counts = (select(PolicyClause.document_id, func.count(PolicyClause.id).label("n"))
              .group_by(PolicyClause.document_id).subquery())
    stmt = (select(PolicyDocument, func.coalesce(counts.c.n, 0))
            .outerjoin(counts, counts.c.document_id == PolicyDocument.id)
            .order_by(PolicyDocument.is_current.desc(), PolicyDocument.source_name, PolicyDocument.version.desc()))
    if current_only:
        stmt = stmt.where(PolicyDocument.is_current.is_(True))
    return [DocumentRow(doc, count) for doc, count in session.execute(stmt)]


def document_tree(session: Session, document_id: int) -> tuple[PolicyDocument, list[ClauseNode]]:
    """The document and its clauses as a forest in document order."""
    document = session.get(PolicyDocument, document_id)
    if document is None:
        raise NotFound("没有这份政策文件")
    nodes: dict[int, ClauseNode] = {}
    roots: list[ClauseNode] = []
    for clause in session.scalars(select(PolicyClause).where(PolicyClause.document_id == document_id)
                                  .order_by(PolicyClause.position)):
        node = nodes[clause.id] = ClauseNode(clause)
        parent = nodes.get(clause.parent_id) if clause.parent_id is not None else None
        (parent.children if parent else roots).append(node)
    return document, roots


def check_upload(filename: Optional[str], data: bytes) -> str:
    """The cleaned file name of an acceptable upload; InvalidInput (field "file") otherwise."""
    name = Path((filename or "").replace("\\", "/")).name.strip()
    if not name or not data:
        raise InvalidInput("请选择要上传的文件", "file")
    suffix = Path(name).suffix.lower()
    if suffix not in UPLOAD_TYPES:
        raise InvalidInput("只能上传 .txt、.md 或 .docx 文件", "file")
    if len(data) > MAX_UPLOAD_BYTES:
        raise InvalidInput(f"文件不能超过 {MAX_UPLOAD_BYTES // (1024 * 1024)} MB", "file")
    if suffix == ".docx" and not data.startswith(b"PK\x03\x04"):
        raise InvalidInput("文件内容不是 Word（.docx）文档", "file")
    if suffix != ".docx" and b"\x00" in data[:4096]:
        raise InvalidInput("文件内容不是纯文本", "file")
    return name[:200]
