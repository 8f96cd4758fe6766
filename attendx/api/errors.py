"""Errors in the project's shape, ``{"error": code, "detail": text}``, as the check-in API answers them."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import IntegrityError
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, serializers
from rest_framework.settings import api_settings

from attendx.db import atomic

CODES = {"throttled": "rate_limited"}  # the code attendx.ratelimit answers with


def _sentences(detail, prefix: str = "") -> list[str]:
    if isinstance(detail, dict):
        lines = []
        for name, errors in detail.items():
            field = "" if name == api_settings.NON_FIELD_ERRORS_KEY else str(name)
            lines += _sentences(errors, ".".join(part for part in (prefix, field) if part))
        return lines
    if isinstance(detail, list):
        return [line for item in detail for line in _sentences(item, prefix)]
    return [f"{prefix}: {detail}" if prefix else str(detail)]


def exception_handler(exc, context):
    """DRF's handler, answering ``{"error": code, "detail": text}``.

    Validation errors also carry ``fields`` (DRF's errors by field). A refused sign-in is always 401 with
    a ``WWW-Authenticate`` challenge, whichever authentication class came first.
    """
    from rest_framework.views import exception_handler as drf_exception_handler

    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        exc.status_code = 401
        exc.auth_header = getattr(exc, "auth_header", None) or 'Bearer realm="attendx"'
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # not an API error: Django answers 500 and logs it
    if isinstance(exc, exceptions.ValidationError):
        fields = response.data
        if not isinstance(fields, dict):
            fields = {api_settings.NON_FIELD_ERRORS_KEY: fields}
        body = {"error": "invalid", "detail": " ".join(_sentences(fields)), "fields": fields}
    else:
        code = exc.get_codes()
        code = CODES.get(code, code) if isinstance(code, str) else "error"
        body = {"error": code, "detail": " ".join(_sentences(response.data.get("detail", "")))}
    if isinstance(exc, exceptions.Throttled):
        body["detail"] = _("Too many requests. Please wait before trying again.")
        body["retry_after"] = int(response["Retry-After"])
    response.data = body
    return response


class Error(serializers.Serializer):
    """Every error answer of the API."""

    error = serializers.CharField(help_text="a code: invalid, not_authenticated, permission_denied, not_found, ...")
    detail = serializers.CharField(help_text="what went wrong, in words for a person")
    fields = serializers.DictField(
        child=serializers.JSONField(), required=False, help_text="validation errors only: the errors of each field"
    )
    retry_after = serializers.IntegerField(required=False, help_text="429 only: seconds, as in Retry-After")


class SavesAtomically:
    """A viewset mixin: create and update in a transaction; a unique value taken by a concurrent request
    in the meantime is a 400, not a 500."""

    def perform_create(self, serializer):
        self._save(serializer)

    def perform_update(self, serializer):
        self._save(serializer)

    @staticmethod
    def _save(serializer):
        try:
            with atomic():
                serializer.save()
        except IntegrityError as error:
            raise exceptions.ValidationError(_("This conflicts with something that exists already.")) from error
