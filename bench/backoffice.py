"""Back-office benchmark at city scale: seed a database with years of data, then time what an administrator reads.

    python bench/backoffice.py seed <DATABASE_URL> [--reports 300000] [--scale 1.0]
    python bench/backoffice.py time <DATABASE_URL> [--rounds 3] [--timeout 10] [--only REGEX]
    python bench/backoffice.py jobs <DATABASE_URL> [--expired 300000]

`seed` upgrades the schema (Alembic) and writes through the real tables (PostgreSQL COPY, SQLite executemany), so
indexes and triggers that later migrations add are filled too. Volumes at scale 1: 1,500 units in the seven
categories, 4,500 staff, 100,000 followers, 1,000,000 logged messages over the retention window, N reports over two
years (pending/approved/rejected, reviewer and review time on reviewed ones, photos), 100,000 resident threads with
their timelines, audit rows, unanswered questions and an announcement with 100,000 deliveries. Random data from a
fixed seed, so two runs give the same database.

`time` upgrades the schema to head first (so the same seeded database is re-timed after indexes are added), then
requests every page and API read in-process through Flask's test client on the app's own engine: no HTTP server, no
worker processes, so figures are the application's own time. SQL statements are counted with a
`before_cursor_execute` listener on that engine; peak RSS growth is sampled from /proc during each request. A page
slower than --timeout on its first request is not repeated.

`jobs` times the scheduler's jobs on the seeded data (monthly reminders, quarter-end warning, weekly digest,
planning an announcement to every follower, the message-log purge) and removes what they created, so the database
stays as seeded.
"""
from __future__ import annotations

import argparse
import math
import os
import random
import re
import sys
import threading
import time
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Optional

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import Table, delete, event, func, select, text  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

from models.admin import ROLE_ADMIN, ROLE_REVIEWER, AdminUser  # noqa: E402
from models.announcement import Announcement, Delivery  # noqa: E402
from models.audit import AuditLog  # noqa: E402
from models.follower import Follower  # noqa: E402
from models.inbound import InboundMessage  # noqa: E402
from models.message import ResidentThread, ThreadEntry, ThreadReceiptCounter, UnansweredAsker  # noqa: E402
from models.policy import UnansweredQuestion  # noqa: E402
from models.report import (ACTIVITY_TYPES, STATUS_APPROVED, STATUS_PENDING, STATUS_REJECTED,  # noqa: E402
                           ActivityReport, ReceiptCounter, ReportPhoto)
from models.staff import Staff  # noqa: E402
from models.subscription import TOPICS, Subscription  # noqa: E402
from models.unit import CATEGORIES, Unit  # noqa: E402
from service.core import clock, schema  # noqa: E402
from service.core.config import Settings  # noqa: E402
from service.core.db import insert_rows, make_engine, make_session_factory  # noqa: E402

RANDOM_SEED = 20261202
BENCH_ADMIN = "bench-admin"
BENCH_PASSWORD = "bench-pass-2026"
BIG_ANNOUNCEMENT = "bench:big-delivery-list"
SEARCH_WORD = "石榴籽"  # in about 2 % of report titles
UTC = timezone.utc


def say(line: str) -> None:
    print(line, flush=True)


def load() -> str:
    """The machine's load when a figure was taken: the same code measures slower on a busy machine."""
    return "load average {:.1f} {:.1f} {:.1f}, {} cores".format(*os.getloadavg(), os.cpu_count())


@dataclass(frozen=True)
class Volumes:
    """How many rows of each kind; `scaled` shrinks everything but the reports (given on the command line)."""

    reports: int = 300_000
    units: int = 1_500
    staff_per_unit: int = 3
    followers: int = 100_000
    messages: int = 1_000_000
    threads: int = 100_000
    unanswered: int = 3_000
    announcements: int = 40
    small_list: int = 1_000  # deliveries of each smaller announcement
    big_list: int = 100_000  # deliveries of the one big announcement (≤ followers)

    def scaled(self, factor: float) -> "Volumes":
        return replace(self, **{f.name: max(1, round(getattr(self, f.name) * factor)) for f in fields(self)
                                if f.name not in ("reports", "staff_per_unit")})


# ---- words the data is made of --------------------------------------------------------------------------------------

CATEGORY_SHARE = {"机关": 12, "企业": 20, "社区": 22, "乡镇": 8, "学校": 20, "连队": 4, "宗教活动场所": 14}
DISTRICTS = ("云岩", "南明", "观山湖", "花溪", "乌当", "白云", "清镇", "修文", "息烽", "开阳")
UNIT_SUFFIX = {"机关": "局", "企业": "有限公司", "社区": "社区居委会", "乡镇": "镇人民政府", "学校": "学校",
               "连队": "连队", "宗教活动场所": "寺"}
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红梅鑫斌宇浩凯建国志文海燕"
THEMES = ("民族团结知识讲座", "中华民族共同体意识宣讲", "民族政策进社区", "各民族交往交流交融座谈会", "民族团结进步主题班会",
          "石榴籽家园建设推进会", "民族文化体验日", "邻里守望互助活动", "双语普法宣传", "民族团结一家亲联谊",
          "少数民族群众走访慰问", "民族团结进步示范创建部署会", "国家通用语言文字推广", "铸牢共同体意识专题学习",
          "民族节庆文艺汇演", "法治宣传进寺院", "国防教育与民族团结", "就业帮扶对接会")
PLACES = ("社区活动室", "会议室", "多功能厅", "党群服务中心", "学校礼堂", "村委会", "文化广场", "连队俱乐部",
          "寺院讲堂", "企业职工之家")
SENTENCES = ("组织干部群众集中学习民族团结进步相关政策", "邀请专家开展专题讲座并现场答疑", "开展民族团结主题宣传活动，发放宣传资料",
             "组织各族群众开展文体活动，增进交往交流交融", "走访慰问困难少数民族家庭，送去慰问品",
             "召开专题会议研究部署创建工作", "结合实际制定工作方案，明确责任分工", "组织学生开展民族团结主题征文比赛",
             "利用宣传栏、电子屏滚动播放宣传标语", "组织志愿者开展邻里互助服务", "举办民族文化展示和非遗体验活动",
             "与共建单位签订联创共建协议", "参与群众反响热烈，取得良好效果")
QUESTIONS = ("民族团结进步创建要求是什么", "七进活动怎么报名", "社区创建需要准备哪些材料", "学校创建考核标准",
             "宗教活动场所如何开展创建", "示范单位评选时间", "创建经费如何申请", "企业如何参与七进", "连队创建有哪些活动",
             "乡镇创建台账怎么做", "少数民族学生有什么政策", "民族团结进步模范集体申报", "双语培训在哪里报名")
THREAD_TEXTS = ("想咨询一下社区民族团结活动什么时候开展", "建议多组织一些民族文化体验活动", "孩子入学遇到困难希望得到帮助",
                "反映小区出租房拒租少数民族租户的问题", "请问民族团结进步示范单位怎么申报", "希望社区能开展双语普法宣传")
REVIEWERS = ("reviewer1", "reviewer2", "reviewer3", "reviewer4", "reviewer5")
REJECT_REASONS = ("照片不清晰，请补充现场照片", "活动内容过于简单，请补充", "参与人数与照片不符", "活动类别选择有误")


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))


def _mobile(rng: random.Random) -> str:
    return f"1{rng.choice('3589')}{rng.randint(0, 999_999_999):09d}"


def _at(day: date, rng: random.Random, earliest_hour: int = 8, latest_hour: int = 21) -> datetime:
    """A local (Asia/Shanghai) time of `day`, as UTC."""
    local = datetime(day.year, day.month, day.day, rng.randint(earliest_hour, latest_hour), rng.randint(0, 59),
                     rng.randint(0, 59), tzinfo=clock.TZ)
    return local.astimezone(UTC)


# ---- writing rows fast through the real tables ----------------------------------------------------------------------

class RowWriter:
    """Bulk insert of plain dict rows through the tables as migrated (the project's `insert_rows`: COPY on
    PostgreSQL, executemany on SQLite), so every index, constraint and trigger they carry is filled and checked."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.counts: dict[str, int] = {}

    def write(self, table: Table, rows: Iterable[dict[str, Any]]) -> int:
        with self.engine.begin() as conn:
            n = insert_rows(conn, table, rows)
            if conn.dialect.name == "postgresql" and "id" in table.c and table.c.id.primary_key:
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                                  f"(SELECT COALESCE(MAX(id), 1) FROM {table.name}))"))
        self.counts[table.name] = self.counts.get(table.name, 0) + n
        return n


# ---- the seed -----------------------------------------------------------------------------------------------------

@dataclass
class World:
    """What later tables refer to: ids and openids handed out so far."""

    today: date
    now: datetime
    units: list[tuple[int, str]] = field(default_factory=list)  # (id, category)
    unit_staff: dict[int, list[tuple[int, str]]] = field(default_factory=dict)  # unit → [(staff id, openid)]
    openids: list[str] = field(default_factory=list)
    report_ids: list[int] = field(default_factory=list)
    admin_ids: list[int] = field(default_factory=list)


def follower_openid(i: int) -> str:
    return f"oBench{i:07d}"


def seed_admins(session_factory, world: World) -> None:
    """The bench's administrator (signs in for `time`) and the reviewers named on reviewed reports."""
    from service.console import accounts

    with session_factory() as s:
        admin = accounts.create_admin(s, BENCH_ADMIN, BENCH_PASSWORD, ROLE_ADMIN)
        world.admin_ids.append(admin.id)
        for name in REVIEWERS:  # the same (slow to compute) hash for all: they never sign in
            user = AdminUser(username=name, display_name=name, password_hash=admin.password_hash,
                             role=ROLE_REVIEWER)
            s.add(user)
            s.flush()
            world.admin_ids.append(user.id)
        s.commit()


def unit_rows(v: Volumes, rng: random.Random, world: World) -> Iterator[dict[str, Any]]:
    categories = rng.choices(list(CATEGORY_SHARE), weights=list(CATEGORY_SHARE.values()), k=v.units)
    for i, category in enumerate(categories, start=1):
        world.units.append((i, category))
        created = _at(world.today - timedelta(days=760 + rng.randint(0, 300)), rng)
        yield dict(id=i, name=f"{rng.choice(DISTRICTS)}区第{i:04d}{UNIT_SUFFIX[category]}", category=category,
                   contact=_name(rng), phone=_mobile(rng), is_extension=rng.random() < 0.1,
                   is_education_base=rng.random() < 0.05, active=rng.random() < 0.98,
                   created_at=created, updated_at=created)


def staff_rows(v: Volumes, rng: random.Random, world: World) -> Iterator[dict[str, Any]]:
    """Three staff per unit; the first always bound (so every unit can report), the others most of the time.
    A bound staff member's openid is a follower's."""
    staff_id = 0
    for unit_id, _ in world.units:
        for k in range(v.staff_per_unit):
            staff_id += 1
            bound = k == 0 or rng.random() < 0.6
            openid = follower_openid(staff_id) if bound and staff_id <= v.followers else None
            if openid:
                world.unit_staff.setdefault(unit_id, []).append((staff_id, openid))
            created = _at(world.today - timedelta(days=700 + rng.randint(0, 60)), rng)
            yield dict(id=staff_id, unit_id=unit_id, name=_name(rng), phone=_mobile(rng), openid=openid,
                       bound_at=created + timedelta(days=1) if openid else None, active=True,
                       created_at=created, updated_at=created)


def follower_rows(v: Volumes, rng: random.Random, world: World) -> Iterator[dict[str, Any]]:
    for i in range(1, v.followers + 1):
        openid = follower_openid(i)
        world.openids.append(openid)
        first = world.now - timedelta(days=rng.randint(0, 729), seconds=rng.randint(0, 86_399))
        recent = rng.random() < 0.15
        last_message = world.now - timedelta(hours=rng.randint(1, 700)) if recent else None
        subscribed = rng.random() < 0.92
        yield dict(openid=openid, subscribed=subscribed, first_seen_at=first,
                   last_interaction_at=last_message or first, last_message_at=last_message,
                   subscribed_at=first, unsubscribed_at=None if subscribed else first + timedelta(days=30),
                   scene="", more_pages=[])


def subscription_rows(v: Volumes, rng: random.Random, world: World) -> Iterator[dict[str, Any]]:
    n = 0
    for openid in world.openids:
        if rng.random() < 0.3:
            for topic in rng.sample(list(TOPICS), rng.randint(1, 3)):
                n += 1
                yield dict(id=n, openid=openid, topic=topic, created_at=world.now - timedelta(days=rng.randint(1, 600)))


def report_rows(v: Volumes, rng: random.Random, world: World, counters: dict[date, int]) -> Iterator[dict[str, Any]]:
    """Reports over two years up to today. Units differ in how active they are (a few report a lot, some hardly at
    all, so compliance has lagging units); older reports are mostly reviewed, recent ones mostly pending."""
    reporting_units = [u for u in world.units if u[0] in world.unit_staff]
    weights = [rng.paretovariate(1.5) * (0.05 if rng.random() < 0.15 else 1.0) for _ in reporting_units]
    picks = rng.choices(range(len(reporting_units)), weights=weights, k=v.reports)
    for i, pick in enumerate(picks, start=1):
        unit_id, unit_category = reporting_units[pick]
        staff_id, openid = rng.choice(world.unit_staff[unit_id])
        age = rng.randint(0, 729)
        day = world.today - timedelta(days=age)
        submitted = min(_at(day, rng) + timedelta(hours=rng.randint(0, 72)), world.now - timedelta(minutes=1))
        submit_day = submitted.astimezone(clock.TZ).date()
        counters[submit_day] = counters.get(submit_day, 0) + 1
        roll = rng.random()
        if age <= 14:
            status = STATUS_PENDING if roll < 0.7 else STATUS_APPROVED if roll < 0.95 else STATUS_REJECTED
        else:
            status = STATUS_APPROVED if roll < 0.88 else STATUS_REJECTED if roll < 0.97 else STATUS_PENDING
        reviewed = status != STATUS_PENDING
        reviewed_at = min(submitted + timedelta(hours=rng.randint(1, 96)), world.now) if reviewed else None
        title = rng.choice(THEMES)
        if rng.random() < 0.02:
            title = f"{SEARCH_WORD}{title}"[:50]
        has_location = rng.random() < 0.4
        world.report_ids.append(i)
        yield dict(id=i, receipt_no=f"QJ{submit_day:%Y%m%d}{counters[submit_day]:04d}", unit_id=unit_id,
                   staff_id=staff_id, openid=openid,
                   category=unit_category if rng.random() < 0.9 else rng.choice(CATEGORIES),
                   activity_type=rng.choice(ACTIVITY_TYPES), title=title, activity_date=day,
                   place=rng.choice(PLACES), latitude=26.5 + rng.random() if has_location else None,
                   longitude=106.5 + rng.random() if has_location else None, participants=rng.randint(8, 300),
                   content="；".join(rng.sample(SENTENCES, rng.randint(2, 5))) + "。", status=status,
                   review_reason=rng.choice(REJECT_REASONS) if status == STATUS_REJECTED else "",
                   reviewed_by=rng.choice(REVIEWERS) if reviewed else "", reviewed_at=reviewed_at,
                   submitted_at=submitted)


def receipt_counter_rows(counters: dict[date, int]) -> Iterator[dict[str, Any]]:
    return (dict(day=day, last=last) for day, last in sorted(counters.items()))


def photo_rows(v: Volumes, rng: random.Random, world: World) -> Iterator[dict[str, Any]]:
    n = 0
    for report_id in world.report_ids:
        if rng.random() < 0.2:
            for k in range(rng.randint(1, 3)):
                n += 1
                received = world.now - timedelta(days=rng.randint(1, 700))
                yield dict(id=n, report_id=report_id, openid=follower_openid(1), media_id=f"bench-media-{n}",
                           pic_url="", local_path=f"reports/{report_id}/{k + 1}.jpg", download_status="done",
                           attempts=1, last_tried_at=received, last_error="", received_at=received)


def audit_rows(v: Volumes, rng: random.Random, world: World) -> Iterator[dict[str, Any]]:
    """One entry per review (as the console writes them) and a sign-in now and then."""
    n = 0
    for report_id in world.report_ids:
        roll = rng.random()
        if roll < 0.9:
            n += 1
            yield dict(id=n, actor=rng.choice(REVIEWERS), action="report.approve" if roll < 0.82 else "report.reject",
                       target_type="report", target_id=str(report_id), detail={"via": "console"},
                       at=world.now - timedelta(days=rng.randint(0, 729), seconds=rng.randint(0, 86_399)))
        if roll < 0.02:
            n += 1
            yield dict(id=n, actor=BENCH_ADMIN, action="auth.login", target_type="", target_id=None, detail={},
                       at=world.now - timedelta(days=rng.randint(0, 729)))


def inbound_rows(v: Volumes, rng: random.Random, world: World,
                 retention_days: int, first_id: int = 1, older: bool = False) -> Iterator[dict[str, Any]]:
    """The message log: within the retention window (seed), or older than it (`older`, what the purge removes)."""
    span = retention_days * 86_400 - 7_200
    for i in range(first_id, first_id + v.messages):
        offset = rng.randint(0, span) + (retention_days * 86_400 + 3_600 if older else 0)
        received = world.now - timedelta(seconds=offset)
        openid = world.openids[rng.randrange(len(world.openids))]
        content = rng.choice(QUESTIONS)
        stamp = int(received.timestamp())
        yield dict(id=i, dedupe_key=f"msgid:{i}", openid=openid, msg_type="text", event=None, event_key="",
                   msg_id=i, content=content, media_id="",
                   raw_xml=(f"<xml><ToUserName><![CDATA[gh_bench]]></ToUserName><FromUserName><![CDATA[{openid}]]>"
                            f"</FromUserName><CreateTime>{stamp}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
                            f"<Content><![CDATA[{content}]]></Content><MsgId>{i}</MsgId></xml>"),
                   received_at=received, status="done", reply="已收到，您可以回复“帮助”查看菜单。",
                   handled_at=received, replay_key=f"{stamp}:{i:x}")


def thread_rows(v: Volumes, rng: random.Random, world: World,
                entries: list[dict[str, Any]], counters: dict[date, int]) -> Iterator[dict[str, Any]]:
    """Resident threads; their timeline entries are collected into `entries` (written after the threads)."""
    statuses = (("closed", 0.55), ("replied", 0.2), ("progress", 0.1), ("open", 0.15))
    categories = ("consult", "suggest", "help", "complaint")
    for i in range(1, v.threads + 1):
        created = world.now - timedelta(days=rng.randint(0, 729), seconds=rng.randint(0, 86_399))
        day = created.astimezone(clock.TZ).date()
        counters[day] = counters.get(day, 0) + 1
        status = rng.choices([s for s, _ in statuses], weights=[w for _, w in statuses])[0]
        openid = world.openids[rng.randrange(len(world.openids))]
        body = rng.choice(THREAD_TEXTS)
        handler = rng.choice(world.admin_ids)
        replied = status in ("replied", "closed")
        first_response = created + timedelta(hours=rng.randint(1, 30)) if status != "open" else None
        closed = first_response + timedelta(days=rng.randint(1, 5)) if status == "closed" else None
        entries.append(dict(thread_id=i, kind="resident", author_id=None, body=body, photos=[], created_at=created,
                            delivery=None, channel=None, delivered_at=None, delivery_error="", attempts=0))
        if status != "open":
            entries.append(dict(thread_id=i, kind="event", author_id=handler, body="已分派", photos=[],
                                created_at=first_response, delivery=None, channel=None, delivered_at=None,
                                delivery_error="", attempts=0))
        if replied:
            entries.append(dict(thread_id=i, kind="reply", author_id=handler, body="您好，已收到您的留言，正在办理。",
                                photos=[], created_at=first_response, delivery="sent", channel="cs",
                                delivered_at=first_response, delivery_error="", attempts=1))
        if closed:
            entries.append(dict(thread_id=i, kind="event", author_id=handler, body="已办结", photos=[],
                                created_at=closed, delivery=None, channel=None, delivered_at=None,
                                delivery_error="", attempts=0))
        rating = rng.choice((1, 1, 1, 2, 3)) if closed and rng.random() < 0.5 else None
        yield dict(id=i, receipt=f"LY{day:%Y%m%d}{counters[day]:04d}", openid=openid,
                   category=rng.choice(categories), status=status, subject=body[:200], phone="",
                   source="wechat", assigned_to=handler if status != "open" else None, created_at=created,
                   updated_at=closed or first_response or created, due_at=created + timedelta(hours=72),
                   first_response_at=first_response, closed_at=closed, closed_by=handler if closed else None,
                   rating=rating, rating_comment="", rating_asked_at=closed, rated_at=closed if rating else None)


def numbered(rows: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    return (dict(row, id=i) for i, row in enumerate(rows, start=1))


def unanswered_rows(v: Volumes, rng: random.Random, world: World,
                    askers: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for i in range(1, v.unanswered + 1):
        example = f"{rng.choice(QUESTIONS)}{i}"
        first = world.now - timedelta(days=rng.randint(0, 700))
        count = rng.randint(1, 12)
        for openid in rng.sample(world.openids, min(count, len(world.openids))):
            askers.append(dict(question_id=i, openid=openid, text=example, asked_at=first, answered_thread_id=None))
        yield dict(id=i, normalized=example, example=example, count=count, first_asked_at=first,
                   last_asked_at=first + timedelta(days=rng.randint(0, 30)))


def announcement_rows(v: Volumes, rng: random.Random, world: World,
                      deliveries: list[tuple[int, int]]) -> Iterator[dict[str, Any]]:
    """Sent announcements: the first to every follower (the 100,000-recipient delivery list), the others smaller;
    `deliveries` gets (announcement id, recipients)."""
    for i in range(1, v.announcements + 1):
        big = i == 1
        sent = world.now - timedelta(days=rng.randint(1, 700)) if not big else world.now - timedelta(days=3)
        deliveries.append((i, min(v.big_list if big else v.small_list, len(world.openids))))
        yield dict(id=i, kind="announcement", dedupe_key=BIG_ANNOUNCEMENT if big else None,
                   title="民族团结进步宣传月" if big else f"活动预告第{i}期",
                   body="各位居民：本月为民族团结进步宣传月，欢迎参加各社区组织的系列活动。",
                   audience={"type": "all"} if big else {"type": "topic", "topic": "event"},
                   send_at=sent, recurrence=None, next_run_at=None, occurrence=1, status="已发送",
                   created_by=world.admin_ids[0], last_sent_at=sent, cancelled_at=None,
                   created_at=sent - timedelta(hours=2), updated_at=sent)


def delivery_rows(rng: random.Random, world: World, lists: list[tuple[int, int]]) -> Iterator[dict[str, Any]]:
    outcomes = (("sent", "template", 0.78), ("sent", "cs", 0.12), ("skipped", None, 0.07), ("failed", "template", 0.02),
                ("unknown", "cs", 0.01))
    n = 0
    for announcement_id, count in lists:
        start = rng.randrange(len(world.openids))
        picks = rng.choices(outcomes, weights=[w for *_, w in outcomes], k=count)
        sent = world.now - timedelta(days=3)
        for k, (status, channel, _) in enumerate(picks):
            n += 1
            yield dict(id=n, announcement_id=announcement_id, occurrence=1,
                       openid=world.openids[(start + k) % len(world.openids)], status=status, channel=channel,
                       batch=None, errcode=43004 if status == "failed" else None,
                       reason="用户已取消关注" if status == "skipped" else "", attempts=0 if status == "skipped" else 1,
                       next_attempt_at=None, lease_until=None, claimed_by="", created_at=sent,
                       sent_at=sent if status == "sent" else None, updated_at=sent)


def seed(url: str, reports: int = 300_000, scale: float = 1.0, out=say) -> dict[str, int]:
    """Create the schema and fill it; refuses a database that already has units (seed a fresh one)."""
    volumes = replace(Volumes().scaled(scale), reports=reports)
    volumes = replace(volumes, big_list=min(volumes.big_list, volumes.followers))
    engine = make_engine(url)
    schema.upgrade(engine)
    with engine.connect() as conn:
        if conn.scalar(select(func.count()).select_from(Unit)):
            raise SystemExit(f"{engine.url.render_as_string()} already has units: seed an empty database")
    rng = random.Random(RANDOM_SEED)
    world = World(today=clock.today(), now=clock.now().astimezone(UTC))
    writer = RowWriter(engine)
    retention = Settings().message_retention_days
    started = time.perf_counter()

    def step(name: str, table: Table, rows: Iterable[dict[str, Any]]) -> None:
        t0 = time.perf_counter()
        n = writer.write(table, rows)
        out(f"  {name:<22} {n:>10,} rows  {time.perf_counter() - t0:7.1f} s")

    seed_admins(make_session_factory(engine), world)
    step("units", Unit.__table__, unit_rows(volumes, rng, world))
    step("followers", Follower.__table__, follower_rows(volumes, rng, world))
    step("staff", Staff.__table__, staff_rows(volumes, rng, world))
    step("subscriptions", Subscription.__table__, subscription_rows(volumes, rng, world))
    receipts: dict[date, int] = {}
    step("activity reports", ActivityReport.__table__, report_rows(volumes, rng, world, receipts))
    step("receipt counters", ReceiptCounter.__table__, receipt_counter_rows(receipts))
    step("report photos", ReportPhoto.__table__, photo_rows(volumes, rng, world))
    step("audit log", AuditLog.__table__, audit_rows(volumes, rng, world))
    step("inbound messages", InboundMessage.__table__, inbound_rows(volumes, rng, world, retention))
    entries: list[dict[str, Any]] = []
    thread_receipts: dict[date, int] = {}
    step("resident threads", ResidentThread.__table__, thread_rows(volumes, rng, world, entries, thread_receipts))
    step("thread entries", ThreadEntry.__table__, numbered(entries))
    step("thread receipt counters", ThreadReceiptCounter.__table__, receipt_counter_rows(thread_receipts))
    askers: list[dict[str, Any]] = []
    step("unanswered questions", UnansweredQuestion.__table__, unanswered_rows(volumes, rng, world, askers))
    step("unanswered askers", UnansweredAsker.__table__, numbered(askers))
    lists: list[tuple[int, int]] = []
    step("announcements", Announcement.__table__, announcement_rows(volumes, rng, world, lists))
    step("deliveries", Delivery.__table__, delivery_rows(rng, world, lists))
    if engine.dialect.name == "postgresql":
        t0 = time.perf_counter()
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
        out(f"  {'vacuum analyze':<22} {'':>15}  {time.perf_counter() - t0:7.1f} s")
    out(f"seeded {engine.dialect.name} in {time.perf_counter() - started:.1f} s "
        f"({sum(writer.counts.values()):,} rows, {reports:,} reports)")
    engine.dispose()
    return writer.counts


# ---- timing the console and the API ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Read:
    """One administrator read: a name for the table, the path (formatted with the seeded ids), and who asks."""

    name: str
    path: str
    via: str = "console"  # console (signed-in session) or api (bearer token)
    stream: bool = False  # an export: count bytes as they stream, sample peak RSS growth


READS: tuple[Read, ...] = (
    Read("dashboard (/admin/ redirects)", "/admin/dashboard"),
    Read("reports list (queue)", "/admin/reports"),
    Read("reports filter", "/admin/reports?status=已通过&category=学校&date_from={month_start}"),
    Read("reports text search", "/admin/reports?status=&q={search}"),
    Read("reports page 100", "/admin/reports?status=&page=100"),
    Read("report detail", "/admin/reports/{report_id}"),
    Read("units list", "/admin/units"),
    Read("unit detail", "/admin/units/{unit_id}"),
    Read("staff detail", "/admin/staff/{staff_id}"),
    Read("compliance page", "/admin/compliance"),
    Read("announcements list", "/admin/announcements"),
    Read("announcement 100k deliveries", "/admin/announcements/{announcement_id}"),
    Read("audit log", "/admin/audit"),
    Read("unanswered questions", "/admin/policy/unanswered"),
    Read("accounts", "/admin/accounts"),
    Read("settings & status", "/admin/status"),
    Read("messages list", "/admin/messages"),
    Read("message thread", "/admin/messages/{thread_id}"),
    Read("export xlsx month (console)", "/admin/reports/export.xlsx?status=&date_from={month_start}&date_to={month_end}", stream=True),
    Read("API reports", "/api/v1/reports", "api"),
    Read("API reports filter", "/api/v1/reports?status=已通过&category=社区&month={month}", "api"),
    Read("API reports text search", "/api/v1/reports?q={search}", "api"),
    Read("API report detail", "/api/v1/reports/{report_id}", "api"),
    Read("API units", "/api/v1/units", "api"),
    Read("API unit detail", "/api/v1/units/{unit_id}", "api"),
    Read("API staff", "/api/v1/staff", "api"),
    Read("API compliance", "/api/v1/compliance", "api"),
    Read("API compliance 滞后", "/api/v1/compliance?status=滞后", "api"),
    Read("API statistics", "/api/v1/statistics", "api"),
    Read("API announcements", "/api/v1/announcements", "api"),
    Read("API deliveries (100k list)", "/api/v1/announcements/{announcement_id}/deliveries", "api"),
    Read("API messages", "/api/v1/messages", "api"),
    Read("API message thread", "/api/v1/messages/{thread_id}", "api"),
    Read("export csv month", "/api/v1/exports/reports.csv?month={month}", "api", True),
    Read("export xlsx month", "/api/v1/exports/reports.xlsx?month={month}", "api", True),
    Read("export csv big (≤100k rows)", "/api/v1/exports/reports.csv?date_from={big_from}", "api", True),
    Read("export xlsx big (≤100k rows)", "/api/v1/exports/reports.xlsx?date_from={big_from}", "api", True),
)


@dataclass
class Timing:
    read: Read
    status: int = 0
    seconds: list[float] = field(default_factory=list)
    size: int = 0
    queries: int = 0
    rss_growth_mb: Optional[float] = None
    note: str = ""

    def percentile(self, p: float) -> float:
        ordered = sorted(self.seconds)
        return ordered[max(0, math.ceil(p * len(ordered)) - 1)]


class QueryCounter:
    """Statements sent on an engine (an executemany counts once), via SQLAlchemy's before_cursor_execute."""

    def __init__(self, engine: Engine) -> None:
        self.count = 0
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, *args: Any) -> None:
        self.count += 1


class RssSampler:
    """Peak resident set size of this process above where it started, sampled every few milliseconds."""

    def __init__(self) -> None:
        self.page = 4096
        self.base = self.peak = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self._rss())

    def __enter__(self) -> "RssSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.base) / 2**20


def bench_context(session) -> dict[str, Any]:
    """The ids and values the paths name, chosen from the seeded data (the same every run)."""
    today = clock.today()
    last_month_end = today.replace(day=1) - timedelta(days=1)
    big = session.scalar(select(Announcement.id).where(Announcement.dedupe_key == BIG_ANNOUNCEMENT))
    busiest = session.execute(select(ActivityReport.unit_id, func.count()).group_by(ActivityReport.unit_id)
                              .order_by(func.count().desc()).limit(1)).first()
    total = session.scalar(select(func.count()).select_from(ActivityReport))
    big_from = session.scalar(select(ActivityReport.activity_date).order_by(ActivityReport.activity_date.desc())
                              .offset(min(100_000, total) - 1).limit(1)) if total else today
    return dict(
        month=f"{last_month_end:%Y-%m}", month_start=last_month_end.replace(day=1).isoformat(),
        month_end=last_month_end.isoformat(),
        search=SEARCH_WORD, big_from=big_from.isoformat(), big_rows=min(100_000, total),
        report_id=session.scalar(select(func.max(ActivityReport.id)).where(ActivityReport.status == STATUS_PENDING))
        or session.scalar(select(func.max(ActivityReport.id))),
        unit_id=busiest[0] if busiest else 1,
        staff_id=session.scalar(select(Staff.id).where(Staff.unit_id == (busiest[0] if busiest else 1)).limit(1)),
        announcement_id=big, thread_id=session.scalar(select(func.max(ResidentThread.id))) or 1,
    )


def bench_clients(app, session_factory) -> dict[str, Any]:
    """A signed-in console client and API bearer headers for the bench's administrator."""
    from service.console import accounts

    with session_factory() as s:
        user = s.scalar(select(AdminUser).where(AdminUser.username == BENCH_ADMIN))
        if user is None:
            accounts.create_admin(s, BENCH_ADMIN, BENCH_PASSWORD, ROLE_ADMIN)
        else:
            user.failed_logins, user.locked_until, user.must_change_password = 0, None, False
        token = accounts.create_api_token(s, BENCH_ADMIN, name="bench", days=1)
        s.commit()
    console = app.test_client()
    page = console.get("/admin/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = console.post("/admin/login", data={"csrf_token": csrf, "username": BENCH_ADMIN,
                                                  "password": BENCH_PASSWORD})
    if response.status_code != 302:
        raise SystemExit(f"bench administrator could not sign in ({response.status_code})")
    return {"console": (console, {}), "api": (app.test_client(), {"Authorization": f"Bearer {token}"})}


def route_exists(app, path: str) -> bool:
    from werkzeug.exceptions import MethodNotAllowed, NotFound

    try:
        app.url_map.bind("localhost").match(path.split("?")[0], method="GET")
    except (NotFound, MethodNotAllowed):
        return False
    return True


def request_once(client, headers: dict[str, str], read: Read, path: str, counter: QueryCounter
                 ) -> tuple[int, float, int, int, Optional[float]]:
    """One request, body read to the end; (status, seconds, bytes, statements, RSS growth MB for exports)."""
    before = counter.count
    sampler = RssSampler() if read.stream else None
    t0 = time.perf_counter()
    if sampler:
        with sampler:
            response = client.get(path, headers=headers, buffered=False)
            size = sum(len(chunk) for chunk in response.response)
            response.close()
    else:
        response = client.get(path, headers=headers)
        size = len(response.get_data())
    seconds = time.perf_counter() - t0
    return response.status_code, seconds, size, counter.count - before, sampler.growth_mb if sampler else None


def time_reads(url: str, rounds: int = 3, timeout: float = 10.0, only: str = "", out=say) -> list[Timing]:
    from service.app import create_app

    engine = make_engine(url)
    schema.upgrade(engine)
    engine.dispose()
    app = create_app(Settings(database_url=url, secret_key="bench", wechat_template_id="bench-template"))
    runtime = app.extensions["qijin"]
    counter = QueryCounter(runtime.engine)
    clients = bench_clients(app, runtime.session_factory)
    with runtime.session_factory() as s:
        ctx = bench_context(s)
    pattern = re.compile(only) if only else None
    results = []
    out(f"month {ctx['month']}; big exports: activity date ≥ {ctx['big_from']} (about {ctx['big_rows']:,} reports); "
        f"search {ctx['search']!r}; report {ctx['report_id']}, unit {ctx['unit_id']}, announcement "
        f"{ctx['announcement_id']}")
    out(HEADER)
    for read in READS:
        if pattern and not pattern.search(read.name):
            continue
        timing = Timing(read)
        results.append(timing)
        path = read.path.format(**ctx)
        if not route_exists(app, path):
            timing.note = "n/a"
            continue
        client, headers = clients[read.via]
        for n in range(rounds):
            status, seconds, size, queries, growth = request_once(client, headers, read, path, counter)
            timing.status, timing.size, timing.queries = status, size, queries
            timing.seconds.append(seconds)
            if growth is not None:
                timing.rss_growth_mb = max(timing.rss_growth_mb or 0.0, growth)
            if seconds > timeout and n < rounds - 1:
                timing.note = f"1 run (> {timeout:g} s)"
                break
        out(format_row(timing))
    return results


HEADER = (f"{'page / call':<32} {'status':>6} {'p50 ms':>9} {'p95 ms':>9} {'KiB':>9} {'queries':>7} "
          f"{'RSS+ MB':>7}  note")


def format_row(t: Timing) -> str:
    if t.note == "n/a":
        return f"{t.read.name:<32} {'n/a':>6}"
    rss = f"{t.rss_growth_mb:7.0f}" if t.rss_growth_mb is not None else f"{'':>7}"
    return (f"{t.read.name:<32} {t.status:>6} {t.percentile(0.5) * 1000:9.0f} {t.percentile(0.95) * 1000:9.0f} "
            f"{t.size / 1024:9.0f} {t.queries:>7} {rss}  {t.note}")


def print_table(url: str, results: list[Timing], rounds: int) -> None:
    engine = make_engine(url)
    with engine.connect() as conn:
        reports = conn.scalar(select(func.count()).select_from(ActivityReport))
        revision = schema.state(conn).current
    engine.dispose()
    print()
    print(f"{engine.dialect.name}, {reports:,} reports, schema {revision}, {rounds} rounds; in-process (Flask test "
          f"client, one thread), queries = statements on the app's engine per request; {load()}")
    print(HEADER)
    for t in results:
        print(format_row(t))


# ---- scheduler jobs -------------------------------------------------------------------------------------------------

@dataclass
class JobBench:
    """What the job steps share: the configured scheduler, and the announcements they created (removed at the end)."""

    url: str
    engine: Engine
    factory: Any
    settings: Settings
    expired: int
    created: list[int] = field(default_factory=list)
    purge: dict[str, float] = field(default_factory=dict)
    lagging: Optional[list[Any]] = None

    def keep(self, value: Any) -> str:
        ids = value if isinstance(value, list) else [value] if value else []
        self.created.extend(ids)
        return f"{len(ids)} system messages queued"


def _lagging(b: JobBench) -> str:
    from service.reporting import compliance

    today = clock.today()
    with b.factory() as s:
        b.lagging = compliance.lagging_units(s, *compliance.year_to_date(today), today,
                                             compliance.rules(b.settings.compliance_quarter_min))
    return f"{len(b.lagging)} lagging units (the evaluation the reminders and the digest run)"


def _queue_reminders(b: JobBench) -> str:
    """The reminders' own work once compliance is known: one message per lagging unit, in one transaction."""
    from scheduler import jobs
    from service.notices import texts

    if b.lagging is None:
        _lagging(b)
    return b.keep(jobs._remind("bench-reminder", texts.REMINDER_TITLE, texts.REMINDER_BODY,
                               [(u, u.missed) for u in b.lagging], {}))


def _plan_to_all(b: JobBench) -> str:
    from service.notices import announcements, delivery as notify

    with b.factory() as s:
        ann = announcements.create(s, {"title": "压测通知", "body": "压测：发给全体关注者。", "audience": "all"}, clock.now())
        s.commit()
        b.created.append(ann.id)
    notify.materialize_due(b.factory, b.settings, clock.now())
    with b.factory() as s:
        planned = s.scalar(select(func.count()).select_from(Delivery).where(Delivery.announcement_id == ann.id))
    return f"{planned:,} deliveries planned"


def _job(name: str) -> Callable[[JobBench], str]:
    def run(b: JobBench) -> str:
        from scheduler import jobs

        return b.keep(getattr(jobs, name)())
    return run


# name, what it runs; each prints its time and what it did
JOB_STEPS: tuple[tuple[str, Callable[[JobBench], str]], ...] = (
    ("plan announcement to all followers", _plan_to_all),  # first: the jobs below leave their messages due
    ("compliance evaluation (year to date)", _lagging),
    ("queue reminders of the lagging units", _queue_reminders),
    ("monthly_compliance_reminders", _job("monthly_compliance_reminders")),
    ("quarter_end_warning", _job("quarter_end_warning")),
    ("weekly_digest", _job("weekly_digest")),
    ("trim_message_log (batched purge)", lambda b: time_purge(b)),
)


def time_jobs(url: str, expired: int = 300_000, only: str = "", out=say) -> dict[str, float]:
    """Run the scheduler's periodic jobs on the seeded data, timed; what they create is removed afterwards."""
    from scheduler import jobs

    engine = make_engine(url)
    schema.upgrade(engine)
    factory = make_session_factory(engine)
    settings = Settings(database_url=url, wechat_template_id="bench-template",
                        admin_openids=(follower_openid(1), follower_openid(2)))
    jobs.configure(settings, factory)
    bench = JobBench(url, engine, factory, settings, expired)
    figures: dict[str, float] = {}
    pattern = re.compile(only) if only else None
    out(f"scheduler jobs on {engine.dialect.name} (in-process, the scheduler's own functions; {load()})")
    try:
        for name, step in JOB_STEPS:
            if pattern and not pattern.search(name):
                continue
            t0 = time.perf_counter()
            did = step(bench)
            figures[name] = time.perf_counter() - t0
            out(f"  {name:<40} {figures[name]:8.2f} s  {did}")
    finally:
        with factory() as s:
            if bench.created:
                s.execute(delete(Delivery).where(Delivery.announcement_id.in_(bench.created)))
                s.execute(delete(Announcement).where(Announcement.id.in_(bench.created)))
            s.commit()
        engine.dispose()
    figures.update(bench.purge)
    return figures


def time_purge(b: JobBench) -> str:
    """Add expired log rows (older than the retention window), then run the purge job's batches, timing each
    transaction; the log within the window and the resident threads must be untouched."""
    from service.wechat import inbox

    rng = random.Random(RANDOM_SEED + 1)
    retention = b.settings.message_retention_days
    with b.factory() as s:
        openids = list(s.scalars(select(Follower.openid).limit(1000))) or [follower_openid(1)]
        first_id = (s.scalar(select(func.max(InboundMessage.id))) or 0) + 1
        before = [s.scalar(select(func.count()).select_from(t)) for t in (InboundMessage, ResidentThread, ThreadEntry)]
    world = World(today=clock.today(), now=clock.now().astimezone(UTC), openids=openids)
    RowWriter(b.engine).write(InboundMessage.__table__, inbound_rows(
        replace(Volumes(), messages=b.expired), rng, world, retention, first_id, older=True))
    batches: list[float] = []
    removed = 0
    started = time.perf_counter()
    for n, seconds in inbox.trim_batches(b.factory, clock.now() - timedelta(days=retention)):
        removed += n
        batches.append(seconds)
    with b.factory() as s:
        after = [s.scalar(select(func.count()).select_from(t)) for t in (InboundMessage, ResidentThread, ThreadEntry)]
    assert after == before, f"the purge removed more than the expired rows: {before} → {after}"
    purge_seconds = time.perf_counter() - started
    longest = max(batches, default=0.0)
    b.purge = {"purged": float(removed), "purge longest batch": longest, "purge": purge_seconds}
    median = sorted(batches)[len(batches) // 2] if batches else 0.0
    over = sum(1 for t in batches if t > 0.5)
    return (f"(adding them included) purge {purge_seconds:.1f} s: {removed:,} expired rows in {len(batches)} "
            f"transactions, median {median * 1000:.0f} ms, longest {longest * 1000:.0f} ms (no. "
            f"{batches.index(longest) + 1 if batches else 0}), {over} over 500 ms; "
            f"{before[0]:,} log rows within the window, threads and entries untouched")


# ---- command line -------------------------------------------------------------------------------------------------

def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_seed = sub.add_parser("seed", help="create the schema and seed it")
    p_seed.add_argument("url")
    p_seed.add_argument("--reports", type=int, default=300_000)
    p_seed.add_argument("--scale", type=float, default=1.0, help="multiply every other volume (e.g. 0.1)")
    p_time = sub.add_parser("time", help="time every console page and API read")
    p_time.add_argument("url")
    p_time.add_argument("--rounds", type=int, default=3)
    p_time.add_argument("--timeout", type=float, default=10.0,
                        help="a request slower than this on its first run is not repeated")
    p_time.add_argument("--only", default="", help="regular expression on the page names")
    p_jobs = sub.add_parser("jobs", help="time the scheduler's periodic jobs")
    p_jobs.add_argument("url")
    p_jobs.add_argument("--expired", type=int, default=300_000, help="expired log rows the purge removes")
    p_jobs.add_argument("--only", default="", help="regular expression on the job names")
    p_seed.set_defaults(run=lambda a: seed(a.url, a.reports, a.scale))
    p_time.set_defaults(run=lambda a: print_table(a.url, time_reads(a.url, a.rounds, a.timeout, a.only), a.rounds))
    p_jobs.set_defaults(run=lambda a: time_jobs(a.url, a.expired, a.only))
    args = parser.parse_args(argv)
    args.run(args)

if __name__ == "__main__":
    main()
