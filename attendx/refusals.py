"""Answers that refuse a request, in the form its client reads: JSON for the API and JSON clients
(``{"error": code, "detail": text}``), a page for people. Rate limits and body limits both answer so.
"""

from django.http import JsonResponse
from django.shortcuts import render


def wants_json(request) -> bool:
    accept = request.headers.get("Accept", "")
    return request.path.startswith("/api/") or ("application/json" in accept and "text/html" not in accept)


def refusal(
    request, *, status: int, code: str, detail: str, template: str | None = None, retry_after: int | None = None
):
    """The refusal; ``template`` defaults to ``<status>.html``; ``retry_after`` also sets the header."""
    if wants_json(request):
        body = {"error": code, "detail": detail}
        if retry_after is not None:
            body["retry_after"] = retry_after
        response = JsonResponse(body, status=status)
    else:
        context = {"status": status, "detail": detail}
        if retry_after is not None:
            context.update(retry_after=retry_after, retry_minutes=-(-retry_after // 60))
        response = render(request, template or f"{status}.html", context, status=status)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response
