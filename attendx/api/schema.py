"""The OpenAPI 3 schema (drf-spectacular): the error answers every operation can give, ids as strings on
either database, and the device token as a bearer scheme."""

from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view

from attendx.api.errors import Error
from attendx.api.fields import KEY_SCHEMA

WRITES = ("POST", "PUT", "PATCH")


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's, plus the errors of every operation (unless the view documents its own)."""

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        errors = {
            "401": "Not signed in, or a bad device token",
            "403": "Not allowed for this account (or no CSRF token with a session cookie)",
            "429": "Too many requests: see Retry-After",
        }
        if self.method in WRITES or self._is_list_view():
            errors["400"] = "Invalid input or filters: see `fields`"
        if "{" in self.path or self._is_list_view():
            errors["404"] = "No such object, or no such page"
        if self.method in WRITES:
            errors["411"] = "A body without Content-Length (chunked): refused before it is read"
            errors["413"] = "A body over the limit, by its Content-Length"
            errors["415"] = "Unsupported media type"
        for code, description in errors.items():
            if code not in responses:
                responses[code] = {**self._get_response_for_code(Error, code), "description": description}
        retry_after = {"schema": {"type": "integer"}, "description": "seconds to wait"}
        responses["429"].setdefault("headers", {}).setdefault("Retry-After", retry_after)
        return responses


class DeviceTokenScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.DeviceTokenAuthentication"
    name = "deviceToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "a device token: `Authorization: Bearer atx_...`"}


KEY_IN_PATH = OpenApiParameter("id", KEY_SCHEMA, OpenApiParameter.PATH, description="the object's id")


def documented_lookup(viewset):
    """A viewset decorator: its URL ``{id}`` is documented as a string id, on either database."""
    actions = [name for name in ("retrieve", "update", "partial_update") if hasattr(viewset, name)]
    return extend_schema_view(**{name: extend_schema(parameters=[KEY_IN_PATH]) for name in actions})(viewset)
