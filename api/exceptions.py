"""One JSON shape for every API error, and the mapping of service errors to HTTP.

    {"status": 400, "code": "invalid", "message": "…", "fields": {"minutes": ["…"]}}

`message` is one sentence a person can read; `fields` names each offending
input field (`non_field_errors` for the request as a whole) and is empty when
no field is to blame. Services raise Django's ValidationError and
PermissionDenied; the ledger's InsufficientBalance answers 409 (the request is
valid, the balance is not enough), so does NoAgreementCanTake (time logged for
a client none of whose agreements can take it now), and a reused idempotency
key 422.
"""

from django.core.exceptions import NON_FIELD_ERRORS, ObjectDoesNotExist
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from agreements.services import IdempotencyConflict, InsufficientBalance, NoAgreementCanTake
from api.services import IdempotencyKeyReused


class ServiceError(exceptions.APIException):
    def __init__(self, status_code: int, code: str, message: str, fields: dict[str, list[str]]) -> None:
        self.status_code = status_code
        self.code = code
        self.message = message
        self.fields = fields
        super().__init__(detail=message, code=code)


def _fields_of(error: DjangoValidationError) -> dict[str, list[str]]:
    if not hasattr(error, "error_dict"):
        return {}
    fields = {}
    for name, errors in error.message_dict.items():
        key = api_settings.NON_FIELD_ERRORS_KEY if name == NON_FIELD_ERRORS else name
        fields[key] = [str(message) for message in errors]
    return fields


def _from_django(exc: Exception) -> exceptions.APIException | None:
    if isinstance(exc, DjangoValidationError):
        fields = _fields_of(exc)
        messages = [str(message) for message in exc.messages]
        message = messages[0] if len(messages) == 1 else " ".join(messages)
        if isinstance(exc, (IdempotencyKeyReused, IdempotencyConflict)):
            return ServiceError(status.HTTP_422_UNPROCESSABLE_ENTITY, "idempotency_key_reused", message, fields)
        if isinstance(exc, InsufficientBalance):
            return ServiceError(status.HTTP_409_CONFLICT, "insufficient_balance", message, fields)
        if isinstance(exc, NoAgreementCanTake):
            return ServiceError(status.HTTP_409_CONFLICT, "no_agreement_can_take", message, fields)
        return ServiceError(status.HTTP_400_BAD_REQUEST, "invalid", message, fields)
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied(str(exc) or None)
    if isinstance(exc, (Http404, ObjectDoesNotExist)):
        return exceptions.NotFound()  # "Not found.", in the caller's language; never say whose it is
    return None


def _flatten(detail: object, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail as {"field": [...], "lines.0.amount": [...]}."""
    if isinstance(detail, dict):
        flat: dict[str, list[str]] = {}
        for key, value in detail.items():
            flat.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    if isinstance(detail, list) and any(isinstance(item, (dict, list)) for item in detail):
        flat = {}
        for index, value in enumerate(detail):
            flat.update(_flatten(value, f"{prefix}.{index}" if prefix else str(index)))
        return flat
    items = detail if isinstance(detail, list) else [detail]
    return {prefix or api_settings.NON_FIELD_ERRORS_KEY: [str(item) for item in items]}


def _body(exc: exceptions.APIException) -> dict[str, object]:
    if isinstance(exc, ServiceError):
        return {"status": exc.status_code, "code": exc.code, "message": exc.message, "fields": exc.fields}
    detail = exc.detail
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(detail)
        if list(fields) == [api_settings.NON_FIELD_ERRORS_KEY]:
            message = " ".join(fields[api_settings.NON_FIELD_ERRORS_KEY])
            if not isinstance(detail, dict):
                fields = {}
        else:
            first_field, messages = next(iter(fields.items()))
            if len(fields) == 1:
                message = f"{first_field}: {messages[0]}"
            else:
                message = gettext("Some fields are not valid; see fields.")
        return {"status": exc.status_code, "code": "invalid", "message": message, "fields": fields}
    codes = exc.get_codes()
    code = codes if isinstance(codes, str) else exc.default_code
    return {"status": exc.status_code, "code": code, "message": str(detail), "fields": {}}


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    exc = _from_django(exc) or exc
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a real bug: let Django log it and answer 500
    response.data = _body(exc)
    return response
