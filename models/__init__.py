"""Import every model module so Base.metadata is complete, and re-export the classes."""
from models.admin import AdminUser, ApiToken
from models.announcement import Announcement, Delivery, ServiceWindow
from models.audit import AuditLog
from models.base import Base
from models.conversation import ConversationDraft
from models.follower import Follower
from models.inbound import InboundMessage
from models.message import ResidentThread, ThreadEntry, ThreadPhoto, ThreadReceiptCounter, UnansweredAsker
from models.policy import FaqEntry, PolicyClause, PolicyDocument, UnansweredQuestion
from models.report import ActivityReport, ReceiptCounter, ReportPhoto, ReportResultNotice, ReportRevision
from models.status import JobRun
from models.staff import BindingAttempt, BindingCode, Staff
from models.subscription import NoticeOptOut, Subscription
from models.token import StoredToken, TokenLock
from models.unit import Unit

__all__ = ["AdminUser", "ApiToken", "AuditLog", "Base", "ConversationDraft", "FaqEntry", "Follower", "InboundMessage",
           "JobRun", "PolicyClause", "PolicyDocument", "StoredToken", "TokenLock", "UnansweredQuestion",
           "ActivityReport", "ReceiptCounter", "ReportPhoto", "ReportResultNotice", "ReportRevision",
           "BindingAttempt", "BindingCode", "Staff", "Unit",
           "Announcement", "Delivery", "ServiceWindow", "NoticeOptOut", "Subscription",
           "ResidentThread", "ThreadEntry", "ThreadPhoto", "ThreadReceiptCounter", "UnansweredAsker"]
