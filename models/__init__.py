"""Import every model module so Base.metadata is complete, and re-export the classes."""
from models.base import Base
from models.conversation import ConversationDraft

__all__ = ["Base", "ConversationDraft"]
