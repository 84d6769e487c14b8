"""How statuses and categories read in Chinese, for the resident's chat, the console and the API alike."""
from __future__ import annotations

from models.message import ReplyDelivery, ThreadCategory, ThreadStatus

STATUS_LABELS: dict[str, str] = {
    ThreadStatus.OPEN: "待处理",
    ThreadStatus.IN_PROGRESS: "处理中",
    ThreadStatus.REPLIED: "已回复",
    ThreadStatus.CLOSED: "已办结",
}

# Order is the order offered to the resident (回复 1–4).
CATEGORY_LABELS: dict[str, str] = {
    ThreadCategory.CONSULT: "政策咨询",
    ThreadCategory.SUGGEST: "意见建议",
    ThreadCategory.HELP: "求助",
    ThreadCategory.COMPLAINT: "反映问题",
}
SENSITIVE_CATEGORIES = frozenset({ThreadCategory.COMPLAINT.value})

DELIVERY_LABELS: dict[str, str] = {
    ReplyDelivery.PENDING: "待发送",
    ReplyDelivery.SENDING: "发送中",
    ReplyDelivery.WAITING: "等待居民下次发消息时送达",
    ReplyDelivery.SENT: "已送达",
    ReplyDelivery.PASSIVE: "已随居民消息回复送达",
    ReplyDelivery.FAILED: "发送失败",
    ReplyDelivery.UNKNOWN: "结果未知（可能已送达，未自动重发）",
}

RATING_LABELS: dict[int, str] = {1: "满意", 2: "基本满意", 3: "不满意"}
