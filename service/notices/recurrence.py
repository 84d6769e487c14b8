"""Parse recurrence rules administrators type ("每周一 9:00", "every Monday 9:00", "每月1日 9:00", "每天 8:30")
into APScheduler cron triggers in Asia/Shanghai, and compute the next run."""
from __future__ import annotations

import re
from datetime import datetime, timedelta

from apscheduler.triggers.cron import CronTrigger

from service.core.clock import TZ

WEEKDAYS = {"一": "mon", "二": "tue", "三": "wed", "四": "thu", "五": "fri", "六": "sat", "日": "sun", "天": "sun",
            "monday": "mon", "tuesday": "tue", "wednesday": "wed", "thursday": "thu", "friday": "fri",
            "saturday": "sat", "sunday": "sun"}
_TIME = r"(\d{1,2})[:：](\d{2})"
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(rf"^每天\s*{_TIME}$"), "daily"),
    (re.compile(rf"^every\s+day\s+(?:at\s+)?{_TIME}$"), "daily"),
    (re.compile(rf"^每(?:周|星期)([一二三四五六日天])\s*{_TIME}$"), "weekly"),
    (re.compile(rf"^every\s+(monday|tuesday|wednesday|thursday|friday|saturday|sunday)\s+(?:at\s+)?{_TIME}$"),
     "weekly"),
    (re.compile(rf"^每月\s*(\d{{1,2}})\s*[日号]\s*{_TIME}$"), "monthly"),
    (re.compile(rf"^every\s+month\s+on\s+(?:day\s+)?(\d{{1,2}})\s+(?:at\s+)?{_TIME}$"), "monthly"),
]


class RecurrenceError(ValueError):
    pass


def parse(rule: str) -> CronTrigger:
    """A CronTrigger for `rule`; raises RecurrenceError when the text matches no supported form."""
    text = " ".join(rule.strip().lower().split())
    for pattern, kind in _PATTERNS:
        m = pattern.match(text)
        if not m:
            continue
        groups = m.groups()
        hour, minute = int(groups[-2]), int(groups[-1])
        if hour > 23 or minute > 59:
            raise RecurrenceError(rule)
        if kind == "daily":
            return CronTrigger(hour=hour, minute=minute, timezone=TZ)
        if kind == "weekly":
            return CronTrigger(day_of_week=WEEKDAYS[groups[0]], hour=hour, minute=minute, timezone=TZ)
        day = int(groups[0])
        if not 1 <= day <= 31:
            raise RecurrenceError(rule)
        return CronTrigger(day=day, hour=hour, minute=minute, timezone=TZ)
    raise RecurrenceError(rule)


def next_run(rule: str, after: datetime) -> datetime:
    """The first run strictly after `after` (aware), in Asia/Shanghai."""
    trigger = parse(rule)
    fire = trigger.get_next_fire_time(None, after.astimezone(TZ))
    if fire is not None and fire <= after:
        fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
    if fire is None:  # e.g. 每月31日 never fires in some spans; CronTrigger already skips to months that have it
        raise RecurrenceError(rule)
    return fire
