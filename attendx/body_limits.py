"""Request bodies: refused by their declared size before anything reads them, and never left half read.

Every view accepts at most ``REQUEST_BODY_MAX_BYTES`` unless it declares its own limit with
``@body_limit(...)``. A body over the limit is answered 413 from its ``Content-Length`` alone, before
Django parses or spools a byte of it; a body without a length (chunked) is answered 411, since
Django would read it as empty. After any answer, what the view left unread of an allowed body is read
and dropped: gunicorn closes a keep-alive connection that still holds more than 64 KB of unread body
without saying so, and the client's next request on that connection fails.
"""

import functools
import logging

from django.conf import settings
from django.utils.translation import gettext as _

from attendx.refusals import refusal

logger = logging.getLogger(__name__)

DRAIN_CHUNK = 64 * 1024
REFUSED_TEMPLATE = "request_refused.html"


def body_limit(limit):
    """Let a view accept bodies of up to ``limit`` bytes (an int, or a callable read at request time)."""

    def decorator(view):
        @functools.wraps(view)
        def wrapped(request, *args, **kwargs):
            return view(request, *args, **kwargs)

        wrapped.body_limit = limit
        return wrapped

    return decorator


def limit_for(view_func) -> int:
    limit = getattr(view_func, "body_limit", None)
    if limit is None:
        return settings.REQUEST_BODY_MAX_BYTES
    return int(limit() if callable(limit) else limit)


def _declared_length(request) -> int | None:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    return length if length >= 0 else None


class RequestBodyMiddleware:
    """Place it before every middleware that may read the body (CsrfViewMiddleware reads POST)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        self._drain(request)
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        if "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
            request.body_refused = True
            return refusal(
                request,
                status=411,
                code="length_required",
                detail=_("Send the request with a Content-Length header; chunked bodies are not accepted."),
                template=REFUSED_TEMPLATE,
            )
        length, limit = _declared_length(request), limit_for(view_func)
        request.attendx_body_limit = limit
        if length is None:
            request.body_refused = True
            return refusal(
                request,
                status=400,
                code="bad_content_length",
                detail=_("The Content-Length is invalid."),
                template=REFUSED_TEMPLATE,
            )
        if length > limit:
            request.body_refused = True
            logger.info("Refused a %d-byte body on %s (limit %d)", length, request.path, limit)
            return refusal(
                request,
                status=413,
                code="too_large",
                detail=_("The request is %(size).1f MB; this page accepts at most %(limit).1f MB.")
                % {"size": length / 1e6, "limit": limit / 1e6},
                template=REFUSED_TEMPLATE,
            )
        return None

    @staticmethod
    def _drain(request) -> None:
        length = _declared_length(request)
        limit = getattr(request, "attendx_body_limit", settings.REQUEST_BODY_MAX_BYTES)
        if getattr(request, "body_refused", False) or not length or length > limit:
            return
        try:
            while request.read(DRAIN_CHUNK):
                pass
        except OSError:  # the client went away: nothing left to keep alive
            pass
