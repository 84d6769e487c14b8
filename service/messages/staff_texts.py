"""Strings of the staff side of residents' messages: the inbox's field names and validation messages, the timeline's
event lines and the weekly digest's overdue section. Shown in the console and in the API's `message`."""
from __future__ import annotations

from service.core import params

FIELD_LABELS = {
    "status": "状态",
    "category": "类别",
    "assigned_to": "处理人",
    "overdue": "超期",
    "date_from": "开始日期",
    "date_to": "结束日期",
    "q": "关键词",
    "text": "内容",
    "user_id": "处理人",
    "openid": "居民 openid",
    "phone": "联系电话",
    "page": "页码",
    "per_page": "每页条数",
}

DATE_ORDER = "结束日期不能早于开始日期"
UNKNOWN_USER = "没有这个后台账号，或该账号已停用"
THREAD_NOT_FOUND = "没有这条留言"
NOT_YOURS = "这条留言没有分派给您，只有管理员和被分派的处理人可以查看"
ALREADY_CLOSED = "这条留言已办结，不能再修改"
ALREADY_ASSIGNED = "这条留言已经分派给该处理人"
OVERDUE_FLAG = "超期只能是 1（只看超期）或留空"


def required(name: str) -> str:
    return params.required(name, FIELD_LABELS)


# Timeline events (EntryKind.EVENT bodies)
EVENT_ASSIGNED = "分派给 {name}"
EVENT_CLOSED = "办结"

# Weekly digest
DIGEST_OVERDUE = "超时最久的留言：{examples}。"
DIGEST_EXAMPLE = "{receipt}（{category}，{days} 天）"
