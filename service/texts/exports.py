"""Column headers and file names of report exports."""
from __future__ import annotations

from datetime import date
from typing import Optional

SHEET_TITLE = "活动上报"
RECEIPT_NO = "回执号"
UNIT = "单位"
CATEGORY = "七进类别"
ACTIVITY_TYPE = "活动类型"
TITLE = "活动名称"
ACTIVITY_DATE = "活动日期"
PLACE = "活动地点"
PARTICIPANTS = "参与人数"
CONTENT = "活动内容"
STAFF = "上报人"
PHOTOS = "照片数"
STATUS = "审核状态"
REVIEW_REASON = "审核意见"
SUBMITTED_AT = "提交时间"


def filename(date_from: Optional[date], date_to: Optional[date], fmt: str) -> str:
    """e.g. 七进活动上报_20260301-20260331.xlsx; open ends read 起 / 止."""
    start = date_from.strftime("%Y%m%d") if date_from else "起"
    end = date_to.strftime("%Y%m%d") if date_to else "止"
    return f"七进活动上报_{start}-{end}.{fmt}"
