"""/wechat: GET answers WeChat's server check, POST hands each message to the gateway (WeRoBot's shape)."""
from __future__ import annotations

from flask import Blueprint, Response, abort, request
from werkzeug.serving import WSGIRequestHandler

from service.app import db, runtime
from service.core import clock
from service.wechat import gateway
from service.wechat.protocol import InvalidSignature, check_signature, query_fields

bp = Blueprint("wechat", __name__)
# The message's MsgId in the WSGI environ, for the access logs: they show /wechat's path and this, never its
# query string, whose signature, timestamp and nonce would let a reader replay it (README, Production).
MSG_ID_ENVIRON = "wechat.msgid"


class RequestLogWithoutWeChatQuery(WSGIRequestHandler):
    """The development server's request log (`python wsgi.py`), with /wechat's path and MsgId for its query."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        path, _, query = getattr(self, "path", "").partition("?")
        if query and path.rstrip("/") == "/wechat":
            msg_id = getattr(self, "environ", {}).get(MSG_ID_ENVIRON)
            self.path = path if msg_id is None else f"{path} MsgId={msg_id}"
        super().log_request(code, size)


@bp.get("/wechat")
def verify() -> Response:
    try:
        check_signature(runtime().settings, request.args, clock.now().timestamp())
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
    if result.msg_id is not None:
        request.environ[MSG_ID_ENVIRON] = result.msg_id
    return Response(result.body, status=result.status, content_type=result.content_type)
