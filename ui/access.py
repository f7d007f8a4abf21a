"""Who may open which face, and fetching objects by public id with a 404.

A signed-in user whose role may not open a page gets 404, exactly like a
page that does not exist (a 403 would confirm the page is there and only
closed to them); anonymous visitors are sent to sign in. Objects are always
fetched through a scoped selector's queryset, so another client's object
answers 404 too — indistinguishable from one that does not exist.
"""

import uuid
from collections.abc import Callable
from functools import wraps
from typing import TypeVar

from django.contrib.auth.decorators import login_required
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _

View = Callable[..., HttpResponse]
M = TypeVar("M", bound=Model)


def _role_required(check: Callable[[object], bool]) -> Callable[[View], View]:
    def decorator(view: View) -> View:
        @login_required
        @wraps(view)
        def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
            if not check(request.user):
                raise Http404(_("No such page."))
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


staff_required = _role_required(lambda user: user.is_msp_staff)
msp_required = _role_required(lambda user: user.works_for_msp)
client_required = _role_required(lambda user: user.is_client_contact)


def get_by_public_id(queryset: QuerySet[M], public_id: object) -> M:
    """The object with this public UUID inside an already scoped queryset, or 404."""
    try:
        key = uuid.UUID(str(public_id))
    except ValueError:
        raise Http404(_("No such object.")) from None
    try:
        return queryset.get(public_id=key)
    except queryset.model.DoesNotExist:
        raise Http404(_("No such object.")) from None
