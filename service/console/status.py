"""The 设置与状态 page: is everything the service needs outside itself working, and what to do when not.

Each check is a `Check` — green (ok), amber (warn: works, with a limit worth knowing) or red (bad) — with one line of
what was found and, when not green, what to do, in Chinese for a district administrator. The WeChat check calls the
API the way the service does (the same client, the shared token store, WECHAT_API_BASE) with a short timeout.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Optional

from sqlalchemy import func, inspect, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from models.announcement import Delivery, DeliveryStatus
from models.report import ReportResultNotice
from service.chat import menu as custom_menu
from service.core import clock, runlog, schema
from service.core.config import Settings
from service.core.errors import WeChatAPIError, WeChatNotConfigured, WeChatUnavailable
from service.core.redact import redact
from service.wechat_api.client import ApiClient, make_client
from service.wechat_api.token_store import make_token_store  # noqa: F401 (the checks build their own)

OK, WARN, BAD = "ok", "warn", "bad"
CHECK_TIMEOUT = 3.0  # seconds for each outbound check (the page must answer even when WeChat does not)
JOB_TABLE = "apscheduler_jobs"
DELIVERY_JOB = "deliver_announcements"
STUCK_AFTER = timedelta(minutes=15)  # a message waiting longer than this is reported red
JOB_NAMES = {
    "deliver_announcements": "发送通知与审核结果",
    "deliver_replies": "发送留言回复",
    "download_report_media": "下载报告照片",
    "monthly_compliance_reminders": "每月进度提醒",
    "quarter_end_warning": "季度末预警",
    "weekly_digest": "每周摘要",
    "purge_conversation_drafts": "清理过期的填报草稿",
    "trim_message_log": "清理消息日志",
}
SECRET_FIX = "在 .env 中设置 WECHAT_APPID 和 WECHAT_SECRET（公众平台 → 设置与开发 → 基本配置），然后重启网站和调度器。"
WECHAT_ERRORS = {
    40001: "access_token 无效",
    40013: "AppID 不正确",
    40125: "AppSecret 不正确",
    40164: "本服务器的 IP 不在公众平台的 IP 白名单中",
    45009: "今日接口调用次数已用完",
    48001: "公众号没有此接口的权限（需认证的服务号）",
}
WECHAT_FIXES = {
    40013: "核对 WECHAT_APPID 与公众平台“基本配置”中的 AppID 是否一致。",
    40125: "在公众平台“基本配置”中重置 AppSecret，填入 WECHAT_SECRET 后重启网站和调度器。",
    40164: "在公众平台“基本配置 → IP白名单”中加入本服务器的出口 IP。",
}
JOB_STALE_AFTER = timedelta(minutes=2)


@dataclass
class Check:
    key: str
    title: str
    level: str
    summary: str
    fix: str = ""


@dataclass
class JobRow:
    id: str
    name: str
    last_run: Optional[datetime]
    ok: Optional[bool]
    detail: str
    next_run: Optional[datetime]


@dataclass
class Status:
    checks: list[Check]
    jobs: list[JobRow] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return all(c.level != BAD for c in self.checks)

    def check(self, key: str) -> Check:
        return next(c for c in self.checks if c.key == key)


def when(value: Optional[datetime]) -> str:
    return clock.local(value).strftime("%Y-%m-%d %H:%M") if value else "从未"


# ---- database and Redis ----------------------------------------------------------------------------------------

def check_database(session: Session) -> Check:
    try:
        session.execute(text("SELECT 1"))
        state = schema.state(session.connection())
    except SQLAlchemyError as exc:
        session.rollback()
        return Check("database", "数据库", BAD, f"连接失败（{exc.__class__.__name__}）",
                     "检查 DATABASE_URL 和数据库服务是否在运行。")
    if not state.up_to_date:
        return Check("database", "数据库", BAD, f"表结构不是最新（{state.current or '从未升级'}，需要 {state.head}）",
                     f"在服务器上运行 {schema.BOOTSTRAP_COMMAND}。")
    return Check("database", "数据库", OK, f"连接正常，表结构为最新（{state.head}）")


def check_redis(settings: Settings, ping: Optional[Callable[[str], Any]] = None) -> Check:
    if not settings.redis_url:
        return Check("redis", "Redis", OK, "未使用：access_token 保存在数据库中（单台服务器足够）")
    try:
        (ping or _redis_ping)(settings.redis_url)
    except Exception as exc:  # any client or network error means: not reachable
        return Check("redis", "Redis", BAD, f"无法连接（{exc.__class__.__name__}）；access_token 暂时改存数据库",
                     "检查 REDIS_URL 与 Redis 服务是否在运行；恢复后无需重启。")
    return Check("redis", "Redis", OK, "连接正常")


def _redis_ping(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=CHECK_TIMEOUT, socket_timeout=CHECK_TIMEOUT)
    try:
        client.ping()
    finally:
        client.close()


# ---- WeChat --------------------------------------------------------------------------------------------------

def _menu_shape(buttons: Any) -> list[dict[str, Any]]:
    """Buttons reduced to what `menu/create` sets (menu/get adds empty sub_button lists and other fields)."""
    shaped = []
    for button in buttons or []:
        item = {k: button[k] for k in ("type", "name", "key", "url") if button.get(k)}
        if button.get("sub_button"):
            subs = button["sub_button"]
            item["sub_button"] = _menu_shape(subs.get("list", []) if isinstance(subs, dict) else subs)
        shaped.append(item)
    return shaped


def check_wechat(settings: Settings, session_factory: sessionmaker[Session], session: Session,
                 client: Optional[ApiClient] = None) -> list[Check]:
    checks = []
    configured = bool(settings.wechat_appid and settings.wechat_secret)
    if configured:
        checks.append(Check("secret", "微信 AppID / AppSecret", OK, f"已设置（AppID {settings.wechat_appid}）"))
    else:
        checks.append(Check("secret", "微信 AppID / AppSecret", BAD,
                            "未设置 AppSecret：客服消息、模板消息、审核结果通知、菜单和照片下载都无法使用",
                            SECRET_FIX))
    live_menu: Optional[dict[str, Any]] = None
    menu_known = False
    if configured:
        client = client or make_client(settings.with_(api_timeout=min(settings.api_timeout, CHECK_TIMEOUT)),
                                       make_token_store(settings, session_factory))
        try:
            live_menu = client.get_menu()
            menu_known = True
            checks.append(Check("token", "微信接口", OK, f"获取 access_token 并调用接口成功（{settings.wechat_api_base}）"))
        except WeChatNotConfigured:
            checks.append(Check("token", "微信接口", BAD, "未设置 AppSecret", SECRET_FIX))
        except WeChatAPIError as exc:
            meaning = WECHAT_ERRORS.get(exc.errcode, redact(str(exc))[:120])
            checks.append(Check("token", "微信接口", BAD, f"微信拒绝了请求：{meaning}（错误码 {exc.errcode}）",
                                WECHAT_FIXES.get(exc.errcode, "根据错误码查阅公众平台文档，或联系技术支持。")))
        except WeChatUnavailable as exc:
            checks.append(Check("token", "微信接口", BAD,
                                f"无法连接微信接口 {settings.wechat_api_base}（{redact(str(exc))[:120]}）",
                                "检查服务器能否访问外网和 WECHAT_API_BASE 设置；恢复后待发消息会自动补发。"))
    else:
        checks.append(Check("token", "微信接口", BAD, "未测试：没有 AppSecret 无法获取 access_token", SECRET_FIX))
    if settings.wechat_template_id:
        checks.append(Check("template", "模板消息", OK, f"已设置模板 ID（{settings.wechat_template_id}）"))
    else:
        checks.append(Check("template", "模板消息", WARN,
                            "未设置模板 ID：48 小时内没有给公众号发过消息的人收不到通知",
                            "在公众平台“模板消息”中选用模板，把模板 ID 填入 WECHAT_TEMPLATE_ID 后重启。"))
    mode = settings.encrypt_mode
    mode_names = {"plain": "明文模式", "compatible": "兼容模式", "safe": "安全模式"}
    if mode == "safe":
        checks.append(Check("encrypt", "消息加密", OK, "安全模式：只接受加密消息"))
    else:
        checks.append(Check("encrypt", "消息加密", WARN, f"{mode_names[mode]}：群众发来的消息未全部加密",
                            "在公众平台“基本配置 → 服务器配置”选择安全模式，设置 WECHAT_AES_KEY 和 "
                            "WECHAT_ENCRYPT_MODE=safe 后重启。"))
    checks.append(_check_menu(session, live_menu, menu_known))
    return checks


def _check_menu(session: Session, live: Optional[dict[str, Any]], known: bool) -> Check:
    run = runlog.all_runs(session).get(runlog.SYNC_MENU)
    last = f"上次同步：{when(run.last_ok_at)}" if run else "从未运行过 sync-menu"
    if run and not run.ok:
        last += f"；最近一次失败（{when(run.finished_at)}：{run.detail}）"
    fix = "在服务器上运行 flask --app wsgi sync-menu。"
    if known:
        expected = _menu_shape(custom_menu.CUSTOM_MENU.get("button"))
        actual = _menu_shape(((live or {}).get("menu") or {}).get("button"))
        if actual == expected:
            return Check("menu", "自定义菜单", OK, f"与本系统的菜单一致。{last}")
        what = "公众号还没有自定义菜单" if live is None else "公众号上的菜单与本系统不一致"
        return Check("menu", "自定义菜单", BAD, f"{what}。{last}", fix)
    if run and run.ok:
        return Check("menu", "自定义菜单", WARN, f"无法向微信核对（接口不可用）。{last}", "先解决上面的微信接口问题。")
    return Check("menu", "自定义菜单", BAD, last, fix)


# ---- scheduler and what waits to be sent -------------------------------------------------------------------------

def _scheduled(session: Session) -> Optional[dict[str, Optional[datetime]]]:
    """Job id → next run time from APScheduler's job store; None when the scheduler never started here."""
    if not inspect(session.connection()).has_table(JOB_TABLE):
        return None
    rows = session.execute(text(f"SELECT id, next_run_time FROM {JOB_TABLE}")).all()
    return {job_id: (datetime.fromtimestamp(float(t), clock.TZ) if t is not None else None) for job_id, t in rows}


def check_scheduler(session: Session, settings: Settings, now: datetime) -> tuple[Check, list[JobRow]]:
    scheduled = _scheduled(session)
    runs = runlog.all_runs(session)
    ids = [*JOB_NAMES, *sorted(set(scheduled or {}) - set(JOB_NAMES))]
    jobs = []
    for job_id in ids:
        run = runs.get(job_id)
        jobs.append(JobRow(job_id, JOB_NAMES.get(job_id, job_id), run.finished_at if run else None,
                           run.ok if run else None, run.detail if run else "", (scheduled or {}).get(job_id)))
    fix = "在服务器上启动调度器：python -m scheduler（与网站一起长期运行，例如用 systemd 或 supervisor）。"
    if scheduled is None:
        return Check("scheduler", "调度器", BAD, "调度器从未在这个数据库上启动过：通知、审核结果和提醒都不会发出", fix), jobs
    delivery = runs.get(DELIVERY_JOB)
    stale = max(JOB_STALE_AFTER, timedelta(seconds=settings.scheduler_poll_seconds * 3))
    if delivery is None or delivery.finished_at is None or now - delivery.finished_at > stale:
        return Check("scheduler", "调度器", BAD,
                     f"没有在运行：“发送通知”上次运行 {when(delivery.finished_at if delivery else None)}", fix), jobs
    failed = [j.name for j in jobs if j.ok is False]
    if failed:
        return Check("scheduler", "调度器", BAD, f"在运行，但这些任务上次失败：{'、'.join(failed)}",
                     "查看下表中的失败原因和调度器日志；问题解决后任务会在下次按时重试。"), jobs
    return Check("scheduler", "调度器", OK, f"在运行：“发送通知”上次运行 {when(delivery.finished_at)}"), jobs


def check_outbound(session: Session, settings: Settings, now: datetime) -> Check:
    waiting = (DeliveryStatus.PENDING, DeliveryStatus.IN_FLIGHT)
    pending, oldest = session.execute(select(func.count(), func.min(Delivery.created_at))
                                      .where(Delivery.status.in_(waiting))).one()
    notices = session.scalar(select(func.count()).select_from(ReportResultNotice)
                             .where(ReportResultNotice.status.in_(("pending", "queued")))) or 0
    reasons = Counter(session.scalars(select(Delivery.reason).where(
        Delivery.status == DeliveryStatus.FAILED, Delivery.updated_at >= now - timedelta(days=1))))
    failed = sum(reasons.values())
    parts = []
    if pending or notices:
        parts.append(f"{pending} 条通知消息、{notices} 条审核结果通知在等待发送"
                     + (f"（最早的已等待 {_age(now - oldest)}）" if oldest else ""))
    if failed:
        top = "；".join(f"{reason or '未知原因'}（{n}）" for reason, n in reasons.most_common(3))
        parts.append(f"近 24 小时 {failed} 条发送失败：{top}")
    if (pending or notices) and not (settings.wechat_appid and settings.wechat_secret):
        return Check("outbound", "待发送消息", BAD, "未设置 AppSecret，消息发不出去：" + "；".join(parts), SECRET_FIX)
    if pending and oldest and now - oldest > STUCK_AFTER:
        return Check("outbound", "待发送消息", BAD, "；".join(parts),
                     "先处理本页其他红色项（调度器、微信接口）；恢复后待发消息会自动补发。")
    if failed:
        return Check("outbound", "待发送消息", WARN, "；".join(parts),
                     "在“通知”中打开对应通知查看每位接收人的失败原因。")
    return Check("outbound", "待发送消息", OK, "；".join(parts) or "没有积压的消息")


def _age(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 60:
        return f"{max(minutes, 0)} 分钟"
    if minutes < 60 * 48:
        return f"{minutes // 60} 小时"
    return f"{minutes // 1440} 天"


def build(session: Session, settings: Settings, session_factory: sessionmaker[Session], now: datetime,
          client: Optional[ApiClient] = None, redis_ping: Optional[Callable[[str], Any]] = None) -> Status:
    wechat = check_wechat(settings, session_factory, session, client)
    scheduler, jobs = check_scheduler(session, settings, now)
    return Status([check_database(session), check_redis(settings, redis_ping), *wechat, scheduler,
                   check_outbound(session, settings, now)], jobs)
