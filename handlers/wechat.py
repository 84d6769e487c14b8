"""/wechat: GET answers WeChat's server check, POST hands each message to the gateway (WeRoBot's shape)."""
from __future__ import annotations

from flask import Blueprint, Response, abort, request

from service.core import clock
from service.wechat import gateway
from service.app import db, runtime
from service.wechat.protocol import InvalidSignature, check_signature, query_fields

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
    rt = runtime()
    args = query_fields(request.environ.get("QUERY_STRING", ""))  # cheaper than request.args, same values
    result = gateway.receive(db, rt.engine, rt.settings, args, request.get_data(cache=False), clock.now())
    return Response(result.body, status=result.status, content_type=result.content_type)
