"""Administrator accounts: password hashing (scrypt via werkzeug), lockout, bootstrap, and API bearer tokens."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Optional

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from models.admin import ROLE_ADMIN, ROLE_REVIEWER, AdminUser, ApiToken
from service.core.clock import local
from service.core.config import Settings, SettingsError
from service.core.errors import Conflict, InvalidInput, NotFound
from service.console import texts

ROLES = {ROLE_ADMIN: "管理员", ROLE_REVIEWER: "审核员"}
MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD = 8
PASSWORD_RULE = texts.PASSWORD_RULE.format(minimum=MIN_PASSWORD)  # said on every form that sets a password


def hash_password(password: str) -> str:
    return generate_password_hash(password, method="scrypt")


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
        raise InvalidInput("角色只能是管理员或审核员", "role")
    check_password(password)
    if session.scalar(select(AdminUser).where(AdminUser.username == username)):
        raise Conflict("用户名已存在", "username")
    user = AdminUser(username=username, password_hash=hash_password(password), role=role,
                     display_name=display_name or username, must_change_password=must_change_password)
    session.add(user)
    session.flush()
    return user


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


def authenticate(session: Session, username: str, password: str, now: datetime) -> Optional[AdminUser]:
    """The user when the password is right and the account is active and not locked; counts failures.

    Raises `InvalidInput` with a Chinese message for a locked account so the form can say so.
    """
    user = session.scalar(select(AdminUser).where(AdminUser.username == username.strip()))
    if user is None or not user.active:
        check_password_hash(hash_password("x" * MIN_PASSWORD), password)  # same work either way
        return None
    if user.locked_until is not None and local(user.locked_until) > now:
        raise InvalidInput("登录失败次数过多，账号已锁定 15 分钟，请稍后再试", "username")
    if not check_password_hash(user.password_hash, password):
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILURES:
            user.locked_until, user.failed_logins = now + LOCKOUT, 0
        return None
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


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_api_token(session: Session, username: str, name: str = "") -> str:
    """Issue a bearer token for `username`; only its hash is stored, so the secret is shown once."""
    user = session.scalar(select(AdminUser).where(AdminUser.username == username))
    if user is None:
        raise NotFound(f"没有用户 {username}", "username")
    secret = "qj_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=_digest(secret), prefix=secret[:10], name=name))
    session.flush()
    return secret


def user_for_token(session: Session, secret: str, now: datetime) -> Optional[AdminUser]:
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(secret), ApiToken.revoked.is_(False)))
    if token is None or not token.user.active:
        return None
    token.last_used_at = now
    return token.user


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
