"""OpenAPI details drf-spectacular cannot infer: token auth, documented error
responses on every operation, and the bounds of service-checked integers."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    status = serializers.IntegerField()
    code = serializers.CharField(help_text="invalid, not_found, permission_denied, insufficient_balance, …")
    message = serializers.CharField(help_text="One sentence a person can read.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Messages per input field; `non_field_errors` for the request as a whole.",
    )


ERRORS = {
    400: "Bad input: the messages say what to change. Nothing was changed.",
    401: "No credentials, or an invalid or revoked token.",
    403: "Refused by a rule on an object you can see, e.g. a technician voiding another technician's entry.",
    404: "No such object — or it belongs to another client, or your role may not use this endpoint; "
    "on a list, also a page past the end.",
    409: "Refused by the current state, e.g. the balance is not enough, or none of the client's agreements "
    "can take the time (code no_agreement_can_take).",
    422: "This Idempotency-Key was already used for a different request.",
    429: "Too many requests for this token: retry after the Retry-After seconds.",
}


class ApiAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction: str = "response") -> dict:
        responses = super()._get_response_bodies(direction)
        method = self.method.upper()
        # 404 everywhere: an unknown object, a page past the end, or a role that may not use the endpoint.
        codes = [401, 403, 404, 429]
        if method in ("POST", "PUT", "PATCH") or self._is_list_view():
            codes.append(400)  # bad body, or a bad filter / page on a list
        if method == "POST":
            codes += [409, 422]
        for code in codes:
            if str(code) not in responses:
                responses[str(code)] = self._get_response_for_code(
                    OpenApiResponse(ErrorSerializer, description=ERRORS[code]), str(code), direction=direction
                )
        return responses


class BoundedIntegerFieldExtension(OpenApiSerializerFieldExtension):
    target_class = "api.fields.BoundedIntegerField"

    def map_serializer_field(self, auto_schema, direction):  # noqa: ANN001, ANN201
        bounds = {"minimum": self.target.minimum, "maximum": self.target.maximum}
        return {"type": "integer", **{name: value for name, value in bounds.items() if value is not None}}


class ApiTokenAuthenticationExtension(OpenApiAuthenticationExtension):
    target_class = "api.authentication.ApiTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):  # noqa: ANN001, ANN201
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <key>`: a key staff created for you (POST /api/v1/tokens/), shown once.",
        }
