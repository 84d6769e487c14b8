"""/wechat: GET answers WeChat's server check, POST hands each message to the gateway (WeRoBot's shape)."""
from __future__ import annotations

from flask import Blueprint, Response, abort, request

from service import clock, gateway
from service.app import db, runtime
from service.db import serialized_writes
from service.wechat_protocol import InvalidSignature, check_signature

bp = Blueprint("wechat", __name__)


@bp.get("/wechat")
def verify() -> Response:
    try:
        check_signature(runtime().settings.wechat_token, request.args)
    except InvalidSignature:
        abort(403)
    echostr = request.args.get("echostr")
    if not echostr:
        abort(403)
    return Response(echostr, mimetype="text/plain")


@bp.post("/wechat")
def receive() -> Response:
    body = request.get_data(cache=False)
    session, rt = db(), runtime()
    with serialized_writes(rt.engine):
        result = gateway.receive(session, rt.settings, request.args, body, clock.now())
        session.commit()
    return Response(result.body, status=result.status, content_type=result.content_type)
