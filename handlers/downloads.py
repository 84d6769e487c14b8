"""Sending a report export: one streamed response for the console and the API alike."""
from __future__ import annotations

from flask import Response, stream_with_context

from service.reporting.exports import ExportFile


def export_response(file: ExportFile) -> Response:
    """The export's chunks as they come, the request (and its database session) kept open until the last one."""
    response = Response(stream_with_context(file.chunks), content_type=file.mimetype)
    response.headers["Content-Disposition"] = file.content_disposition
    response.headers["X-Report-Count"] = str(file.count)
    return response
