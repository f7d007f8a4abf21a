"""Reading webhook endpoints and deliveries: staff only (the callers check the role)."""

from django.db.models import QuerySet

from webhooks.models import Delivery, Endpoint


def endpoints_all() -> QuerySet[Endpoint]:
    return Endpoint.objects.order_by("created_at", "id")


def deliveries_of(endpoint: Endpoint) -> QuerySet[Delivery]:
    return endpoint.deliveries.select_related("event").order_by("-created_at", "-id")


def deliveries_all() -> QuerySet[Delivery]:
    return Delivery.objects.select_related("event", "endpoint")
