"""The policy knowledge base: imported documents (versioned), their numbered clauses, FAQ entries, unanswered questions."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, TimestampMixin, utcnow


class PolicyDocument(Base):
    """One imported version of a document; a re-import with new text adds a row and marks the old one not current."""

    __tablename__ = "policy_document"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    source_name: Mapped[str] = mapped_column(String(200), index=True)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(default=1)
    is_current: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)

    clauses: Mapped[list["PolicyClause"]] = relationship(
        back_populates="document", cascade="all, delete-orphan", order_by="PolicyClause.position")


class PolicyClause(Base):
    """A numbered clause (一、 / (一) / 1. / (1)) with its place in the tree and a readable path."""

    __tablename__ = "policy_clause"
    __table_args__ = (Index("ix_policy_clause_document_position", "document_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("policy_document.id", ondelete="CASCADE"))
    parent_id: Mapped[Optional[int]] = mapped_column(ForeignKey("policy_clause.id", ondelete="CASCADE"))
    position: Mapped[int]  # order within the whole document
    ordinal: Mapped[int]  # order among its siblings, from 1
    level: Mapped[int]  # 1 = 一、 ... 4 = (1)
    number: Mapped[str] = mapped_column(String(16), default="")
    heading: Mapped[str] = mapped_column(String(200), default="")
    text: Mapped[str] = mapped_column(Text, default="")
    path: Mapped[str] = mapped_column(Text, default="")

    document: Mapped[PolicyDocument] = relationship(back_populates="clauses")
    parent: Mapped[Optional["PolicyClause"]] = relationship(remote_side=[id])

    @property
    def label(self) -> str:
        return f"{self.number}{self.heading}"


class FaqEntry(TimestampMixin, Base):
    """An administrator-curated answer; any of its phrasings matching a question wins over clause retrieval."""

    __tablename__ = "faq_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    questions: Mapped[list[str]] = mapped_column(JSON, default=list)
    answer: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class UnansweredQuestion(Base):
    """A question the bot could not answer, counted per normalised text so administrators see what people ask."""

    __tablename__ = "unanswered_question"

    id: Mapped[int] = mapped_column(primary_key=True)
    normalized: Mapped[str] = mapped_column(String(255), unique=True)
    example: Mapped[str] = mapped_column(Text)
    count: Mapped[int] = mapped_column(default=1)
    first_asked_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_asked_at: Mapped[datetime] = mapped_column(default=utcnow)
