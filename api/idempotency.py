"""`Idempotency-Key` on POSTs that charge or credit: the same key and body
replays the first response; another body under the same key is refused.

The key row is claimed in the same transaction as the write it guards, so a
failed request (4xx, crash) leaves no key behind and can be retried with the
same key; only a completed request is remembered.
"""

import json
import re
from collections.abc import Callable

from django.db import transaction
from django.utils.translation import gettext
from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from api.services import idempotency_claim, idempotency_complete, idempotency_fingerprint

HEADER = "Idempotency-Key"
REPLAY_HEADER = "Idempotent-Replayed"
_VALID_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")  # printable ASCII, no spaces


def idempotency_key(request: Request) -> str | None:
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not _VALID_KEY.match(key):
        message = gettext("An Idempotency-Key is 1 to 200 printable ASCII characters without spaces, e.g. a UUID.")
        raise exceptions.ValidationError({HEADER: [message]})
    return key


def _body_of(request: Request) -> object:
    data = request.data
    if hasattr(data, "lists"):  # a form or multipart QueryDict
        return {key: values for key, values in data.lists()}
    return data


def run_idempotent(request: Request, perform: Callable[[], Response]) -> Response:
    """Run `perform` (which calls a service) once per key; replay it otherwise."""
    key = idempotency_key(request)
    with transaction.atomic():
        if key is None:
            return perform()
        record = idempotency_claim(
            user=request.user,
            key=key,
            method=request.method,
            path=request.path,
            fingerprint=idempotency_fingerprint(method=request.method, path=request.path, body=_body_of(request)),
        )
        if record.is_complete:
            response = Response(record.response_body, status=record.response_status)
            response[REPLAY_HEADER] = "true"
            return response
        response = perform()
        # Stored as the client saw it (UUIDs, dates and decimals as strings).
        body = json.loads(JSONRenderer().render(response.data) or b"null")
        idempotency_complete(record=record, status=response.status_code, body=body)
    return response
