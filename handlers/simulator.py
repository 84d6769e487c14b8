"""/simulator: a phone-sized chat page for trying the account locally (development only).

Every action becomes real signed (and in safe mode encrypted) XML posted through this app's own WSGI stack to
/wechat, so the page exercises exactly what WeChat would. Registered only when `settings.simulator_enabled`.
Cross-site requests are refused: POSTs need the `X-Simulator` header (a custom header forces a CORS preflight,
which we never grant) and a same-origin `Origin`/`Sec-Fetch-Site` when the browser sends one.
"""
from __future__ import annotations

from typing import Mapping

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request, send_file, url_for

from service.app import runtime
from service.wechat import simulator, texts

bp = Blueprint("simulator", __name__, url_prefix="/simulator")

# The page loads its own script and stylesheet only, shows pictures the user picked (blob:) or uploaded here, and
# may not be framed (clickjacking a page that posts as any openid).
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; "
                               "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def _error(message: str, status: int = 400) -> tuple[Response, int]:
    return jsonify(error=message), status


@bp.before_request
def same_origin_only():
    if request.method != "POST":
        return None
    origin = request.headers.get("Origin")
    site = request.headers.get("Sec-Fetch-Site")
    if (request.headers.get("X-Simulator") != "1" or (origin and origin != request.host_url.rstrip("/"))
            or (site and site not in ("same-origin", "none"))):
        return _error(texts.FORBIDDEN, 403)
    return None


@bp.after_request
def security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def _through_wsgi(args: Mapping[str, str], body: bytes) -> tuple[int, str]:
    """Deliver to /wechat through the full WSGI stack of this very app, as a separate request."""
    response = current_app.test_client().post("/wechat", query_string=dict(args), data=body,
                                               content_type="text/xml")
    return response.status_code, response.get_data(as_text=True)


@bp.get("")
def page() -> str:
    settings = runtime().settings
    return render_template("simulator/index.html", menu=simulator.menu(), safe_mode=settings.safe_mode,
                           default_openid="o_simulator_user")


@bp.post("/send")
def send():
    action = request.get_json(silent=True) if request.is_json else None
    if not isinstance(action, dict):
        return _error(texts.BAD_JSON, 415 if not request.is_json else 400)
    try:
        return jsonify(simulator.simulate(runtime().settings, _through_wsgi, action))
    except simulator.SimulatorInputError as exc:
        return _error(str(exc))


@bp.post("/media")
def upload():
    file = request.files.get("picture")
    try:
        picture = simulator.store_picture(runtime().settings, file.read() if file else b"")
    except simulator.SimulatorInputError as exc:
        return _error(str(exc))
    return jsonify(media_id=picture.media_id, md5=picture.md5,
                   pic_url=url_for("simulator.media", media_id=picture.media_id, _external=True))


@bp.get("/media/<media_id>")
def media(media_id: str):
    path = simulator.picture_path(runtime().settings, media_id)
    if path is None:
        abort(404)
    return send_file(path, max_age=3600)
