"""Administrator accounts: password hashing (scrypt via werkzeug), lockout, bootstrap, and API bearer tokens."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Optional

from sqlalchemy import case, func, literal, or_, select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from models.admin import ROLE_ADMIN, ROLE_RECEPTION, ROLE_REVIEWER, AdminUser, ApiToken
from service.console import texts
from service.core import clock
from service.core.clock import local
from service.core.config import Settings, SettingsError
from service.core.errors import Conflict, InvalidInput, NotFound

ROLES = {ROLE_ADMIN: "管理员", ROLE_REVIEWER: "审核员", ROLE_RECEPTION: "接待员"}
MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD = 8
PASSWORD_RULE = texts.PASSWORD_RULE.format(minimum=MIN_PASSWORD)  # said on every form that sets a password

TOKEN_DAYS = 365  # default lifetime of an API token
MAX_TOKEN_DAYS = 3650
TOKEN_VALID, TOKEN_EXPIRED, TOKEN_REVOKED = "有效", "已过期", "已吊销"


PASSWORD_METHOD = "scrypt:32768:8:1"  # werkzeug's scrypt defaults, spelled out so UNKNOWN_USER_HASH matches them
# A hash of a random secret nobody knows, with the same cost as real ones: checking a password against it when the
# user is unknown or inactive takes as long as checking a real user's.
UNKNOWN_USER_HASH = ("scrypt:32768:8:1$ICKu8qHp5T5w5XSK$2efa8d68dd57cc70c5192626846fe761b824ce47f1eb0eda78462e4847360e"
                     "c53415fa17753a430343bcc8e44405f79a21f01003daa9d6bf1a84d6533273eb33")


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=PASSWORD_METHOD)


def check_password(password: str, field: str = "password", label: str = "密码") -> None:
    """Refuse a weak password naming the field: MIN_PASSWORD characters or more, of at least two kinds (letters,
    digits, symbols), as PASSWORD_RULE says on the forms."""
    kinds = sum(any(test(ch) for ch in password) for test in (str.isalpha, str.isdigit, lambda c: not c.isalnum()))
    if len(password) < MIN_PASSWORD or kinds < 2:
        raise InvalidInput(label + PASSWORD_RULE, field)


def create_admin(session: Session, username: str, password: str, role: str = ROLE_ADMIN,
                 display_name: str = "", must_change_password: bool = False) -> AdminUser:
    username = username.strip()
    if not username:
        raise InvalidInput("用户名不能为空", "username")
    if len(username) > 64:
        raise InvalidInput("用户名最多 64 个字符", "username")
    if len(display_name) > 64:
        raise InvalidInput("姓名最多 64 个字符", "display_name")
    if role not in ROLES:
        raise InvalidInput("角色只能是管理员、审核员或接待员", "role")
    check_password(password)
    if session.scalar(select(AdminUser).where(AdminUser.username == username)):
        raise Conflict("用户名已存在", "username")
    user = AdminUser(username=username, password_hash=hash_password(password), role=role,
                     display_name=display_name or username, must_change_password=must_change_password)
    session.add(user)
    session.flush()
    return user


def has_admin(session: Session) -> bool:
    """Whether anyone can sign in to the console yet (the login page explains how to create the first one)."""
    return session.scalar(select(AdminUser.id).limit(1)) is not None


def ensure_first_admin(session: Session, settings: Settings) -> str:
    """Create the first administrator from ADMIN_USERNAME/ADMIN_PASSWORD when there is none (bootstrap step); they
    choose their own password at first sign-in. A weak ADMIN_PASSWORD stops the start (SettingsError, one line)."""
    if session.scalar(select(func.count()).select_from(AdminUser)):
        return "administrators exist"
    if not (settings.admin_username and settings.admin_password):
        return "no administrator yet: set ADMIN_USERNAME and ADMIN_PASSWORD"
    try:
        check_password(settings.admin_password)
    except InvalidInput:
        raise SettingsError(f"ADMIN_PASSWORD is too weak: use {MIN_PASSWORD} or more characters of at least two "
                            "kinds (letters, digits, symbols), then start again") from None
    create_admin(session, settings.admin_username, settings.admin_password, must_change_password=True)
    return f"created administrator {settings.admin_username}"


def _claim_attempt(session: Session, username: str, now: datetime) -> bool:
    """Count one sign-in attempt before the password is checked, in one UPDATE committed at once: parallel attempts
    each take their own number, and the one that reaches MAX_FAILURES locks the account, so at most MAX_FAILURES
    passwords are ever checked per lockout period. False when the account is unknown, inactive or locked."""
    reaches_limit = AdminUser.failed_logins + 1 >= MAX_FAILURES
    claimed = session.execute(
        update(AdminUser)
        .where(AdminUser.username == username, AdminUser.active.is_(True),
               or_(AdminUser.locked_until.is_(None), AdminUser.locked_until <= now))
        .values(failed_logins=case((reaches_limit, 0), else_=AdminUser.failed_logins + 1),
                locked_until=case((reaches_limit, literal(now + LOCKOUT, AdminUser.locked_until.type)),
                                  else_=AdminUser.locked_until))
        .execution_options(synchronize_session=False)).rowcount == 1
    session.commit()
    return claimed


def authenticate(session: Session, username: str, password: str, now: datetime) -> Optional[AdminUser]:
    """The user when the password is right and the account is active and not locked; counts failures.

    Every path checks exactly one scrypt hash (the user's, or UNKNOWN_USER_HASH), so the time taken does not tell
    known from unknown names. Commits the attempt count before checking. Raises `InvalidInput` with a Chinese
    message for a locked account so the form can say so.
    """
    username = username.strip()
    claimed = _claim_attempt(session, username, now)
    user = session.scalar(select(AdminUser).where(AdminUser.username == username)
                          .execution_options(populate_existing=True))  # the count as claimed, not as cached
    known = user is not None and user.active
    correct = check_password_hash(user.password_hash if known else UNKNOWN_USER_HASH, password)
    if not known:
        return None
    if not claimed:
        raise InvalidInput("登录失败次数过多，账号已锁定 15 分钟，请稍后再试", "username")
    if not correct:
        return None  # the attempt is already counted
    user.failed_logins, user.locked_until, user.last_login_at = 0, None, now
    return user


def change_password(session: Session, user: AdminUser, old: str, new: str) -> None:
    if not check_password_hash(user.password_hash, old):
        raise InvalidInput("原密码不正确", "old_password")
    check_password(new, "new_password", "新密码")
    if new == old:
        raise InvalidInput(texts.PASSWORD_UNCHANGED, "new_password")
    user.password_hash = hash_password(new)
    user.must_change_password = False
    end_sessions(user)


def end_sessions(user: AdminUser) -> None:
    """Revoke every console session of `user` issued so far (sign-out, password change); the caller commits."""
    user.session_generation = (user.session_generation or 0) + 1


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_api_token(session: Session, username: str, name: str = "", days: int = TOKEN_DAYS,
                     now: Optional[datetime] = None) -> str:
    """Issue a bearer token for `username`, valid for `days`; only its hash is stored, so the secret is shown once."""
    user = session.scalar(select(AdminUser).where(AdminUser.username == username))
    if user is None:
        raise NotFound(f"没有用户 {username}", "username")
    if not 1 <= days <= MAX_TOKEN_DAYS:
        raise InvalidInput(f"有效期应为 1 到 {MAX_TOKEN_DAYS} 天", "days")
    if len(name) > 64:
        raise InvalidInput("令牌名称最多 64 个字符", "name")
    now = now or clock.now()
    secret = "qj_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=_digest(secret), prefix=secret[:10], name=name,
                         created_at=now, expires_at=now + timedelta(days=days)))
    session.flush()
    return secret


def token_state(token: ApiToken, now: datetime) -> str:
    if token.revoked:
        return TOKEN_REVOKED
    return TOKEN_EXPIRED if local(token.expires_at) <= now else TOKEN_VALID


def user_for_token(session: Session, secret: str, now: datetime) -> Optional[AdminUser]:
    """The owner of a valid (not revoked, not expired) token of an active user, else None."""
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(secret)))
    if token is None or token_state(token, now) != TOKEN_VALID or not token.user.active:
        return None
    token.last_used_at = now
    return token.user


def list_api_tokens(session: Session, user_id: int) -> list[ApiToken]:
    """One user's tokens, newest first (revoked and expired ones included)."""
    return list(session.scalars(select(ApiToken).where(ApiToken.user_id == user_id)
                                .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())))


def revoke_api_token(session: Session, token: ApiToken) -> ApiToken:
    if token.revoked:
        raise Conflict("该令牌已经吊销", "token")
    token.revoked = True
    return token


def token_detail(token: ApiToken) -> dict[str, str]:
    """What an audit entry says about a token (never its secret)."""
    return {"user": token.user.username, "prefix": token.prefix, "name": token.name}


def find_api_token(session: Session, text: str, user_id: Optional[int] = None) -> ApiToken:
    """The token named by its whole secret or by its listed prefix (which must be unambiguous)."""
    text = text.strip()
    stmt = select(ApiToken).where(or_(ApiToken.token_hash == _digest(text), ApiToken.prefix == text))
    if user_id is not None:
        stmt = stmt.where(ApiToken.user_id == user_id)
    found = session.scalars(stmt).all()
    if not found:
        raise NotFound("没有这个令牌", "token")
    if len(found) > 1:
        raise Conflict("有多个令牌以此开头，请给出完整令牌", "token")
    return found[0]


def list_admins(session: Session) -> list[AdminUser]:
    return list(session.scalars(select(AdminUser).order_by(AdminUser.active.desc(), AdminUser.username)))


def set_active(session: Session, user_id: int, active: bool, acting: AdminUser) -> AdminUser:
    """Deactivate (or reactivate) a console user; nobody can lock themselves out, and one active 管理员 remains."""
    user = session.get(AdminUser, user_id)
    if user is None:
        raise NotFound("没有这个账号")
    if not active:
        if user.id == acting.id:
            raise InvalidInput("不能停用自己的账号", "user")
        admins = session.scalar(select(func.count()).select_from(AdminUser)
                                .where(AdminUser.role == ROLE_ADMIN, AdminUser.active.is_(True)))
        if user.role == ROLE_ADMIN and user.active and admins <= 1:
            raise InvalidInput("至少要保留一个启用的管理员", "user")
    user.active = active
    if active:
        user.failed_logins, user.locked_until = 0, None
    return user
