"""Sending files: a report export (one streamed response for the console and the API alike) and a stored photo."""
from __future__ import annotations

from pathlib import Path

from flask import Response, abort, send_file, stream_with_context
from werkzeug.security import safe_join

from service.reporting.exports import ExportFile


def export_response(file: ExportFile) -> Response:
    """The export's chunks as they come, the request (and its database session) kept open until the last one."""
    response = Response(stream_with_context(file.chunks), content_type=file.mimetype)
    response.headers["Content-Disposition"] = file.content_disposition
    response.headers["X-Report-Count"] = str(file.count)
    return response


def stored_photo(media_dir: Path | str, local_path: str) -> Response:
    """A downloaded photo under media_dir; 404 when it was never stored or has gone (never a path outside it)."""
    path = safe_join(str(media_dir), local_path) if local_path else None
    if path is None or not Path(path).is_file():
        abort(404)
    return send_file(path, max_age=3600)
