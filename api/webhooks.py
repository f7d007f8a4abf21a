"""Webhook endpoints, their delivery log and the events, in the API (staff only),
and the documented shape of every webhook body (the WebhookEvent component).

Like tokens, the whole area is staff-only: any other role gets 404, the same
as for a URL that does not exist. Writes go through webhooks.services.
"""

from drf_spectacular.utils import (
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from api.fields import StrictBooleanField, StrictCharField
from api.views import ScopedViewSet, _out, _valid, require, require_recent_login
from webhooks import selectors
from webhooks import services as webhook_services
from webhooks.models import Delivery, DeliveryStatus, Endpoint, Event, EventKind

# ---------------------------------------------------------------------------
# The bodies the receivers get (documentation: the services build the JSON)


class WebhookClientSerializer(serializers.Serializer):
    id = serializers.UUIDField(help_text="The client's id in this API (GET /api/v1/clients/{id}/).")
    name = serializers.CharField()


class WebhookAgreementSerializer(serializers.Serializer):
    id = serializers.UUIDField(help_text="The agreement's id in this API (GET /api/v1/agreements/{id}/).")
    name = serializers.CharField()


class _AboutAgreement(serializers.Serializer):
    client = WebhookClientSerializer()
    agreement = WebhookAgreementSerializer()


class BalanceEventDataSerializer(_AboutAgreement):
    balance_minutes = serializers.IntegerField(help_text="The balance when the episode opened, in minutes.")
    threshold_minutes = serializers.IntegerField(help_text="The agreement's low-balance threshold, in minutes.")


class WebhookInvoiceSerializer(serializers.Serializer):
    id = serializers.UUIDField(help_text="The invoice's id in this API (GET /api/v1/invoices/{id}/).")
    number = serializers.CharField()
    kind = serializers.CharField(help_text="block, reload, overage, renewal…")
    status = serializers.CharField(help_text="issued or paid.")
    currency = serializers.CharField(help_text="ISO 4217 code.")
    total = serializers.CharField(help_text='A decimal string, e.g. "1000.00".')
    issued_on = serializers.DateField()
    due_on = serializers.DateField()
    paid_at = serializers.DateTimeField(allow_null=True, help_text="Set on invoice.paid; null on invoice.issued.")


class InvoiceEventDataSerializer(_AboutAgreement):
    invoice = WebhookInvoiceSerializer()


class WebhookBlockSerializer(serializers.Serializer):
    id = serializers.UUIDField(help_text="The block's id (the agreement's purchases in this API).")
    minutes = serializers.IntegerField()
    credit = serializers.CharField(help_text="purchase, goodwill or move_in: how the hours came.")


class BlockCreditedEventDataSerializer(_AboutAgreement):
    block = WebhookBlockSerializer()
    balance_minutes = serializers.IntegerField(help_text="The balance with the block's hours, in minutes.")


class WebhookTimeEntrySerializer(serializers.Serializer):
    id = serializers.UUIDField(help_text="The entry's id in this API (GET /api/v1/time-entries/{id}/).")
    ticket = serializers.CharField(help_text="The ticket's number.")
    technician = serializers.CharField(help_text="The technician's username.")
    work_date = serializers.DateField()
    minutes = serializers.IntegerField(help_text="Minutes worked.")
    charged_minutes = serializers.IntegerField(help_text="Minutes charged after rounding and the work type's rate.")
    work_type = serializers.CharField()
    voided = serializers.BooleanField()
    void_reason = serializers.CharField(allow_blank=True)


class TimeEntryEventDataSerializer(_AboutAgreement):
    time_entry = WebhookTimeEntrySerializer()
    balance_minutes = serializers.IntegerField(help_text="The balance after the entry (or its void), in minutes.")


DATA = {
    EventKind.BALANCE_LOW: BalanceEventDataSerializer,
    EventKind.BALANCE_EXHAUSTED: BalanceEventDataSerializer,
    EventKind.INVOICE_ISSUED: InvoiceEventDataSerializer,
    EventKind.INVOICE_PAID: InvoiceEventDataSerializer,
    EventKind.BLOCK_CREDITED: BlockCreditedEventDataSerializer,
    EventKind.TIME_ENTRY_CREATED: TimeEntryEventDataSerializer,
    EventKind.TIME_ENTRY_VOIDED: TimeEntryEventDataSerializer,
}


def _event_serializer(kind: str, data: type[serializers.Serializer]) -> type[serializers.Serializer]:
    name = "".join(part.title() for part in kind.replace(".", "_").split("_")) + "EventSerializer"
    fields = {
        "id": serializers.UUIDField(help_text="The event's stable id: the same in every retry and resend."),
        "type": serializers.ChoiceField(choices=[kind]),
        "created_at": serializers.DateTimeField(),
        "data": data(),
    }
    return type(name, (serializers.Serializer,), {**fields, "__doc__": f"The body of a {kind} webhook."})


EVENT_SERIALIZERS = {kind.value: _event_serializer(kind.value, data) for kind, data in DATA.items()}
WEBHOOK_EVENT = PolymorphicProxySerializer(
    component_name="WebhookEvent",
    serializers=EVENT_SERIALIZERS,
    resource_type_field_name="type",
)


# ---------------------------------------------------------------------------
# Endpoints and deliveries


class WebhookEndpointSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    events = serializers.ListField(child=serializers.ChoiceField(choices=EventKind.choices), read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = Endpoint
        fields = ["id", "url", "description", "events", "is_active", "created_at", "created_by", "secret_rotated_at"]
        read_only_fields = fields


class WebhookEndpointSecretSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(
        read_only=True,
        help_text="The signing secret, shown in this response only: store it now. "
        "Verify each delivery's Blockhours-Signature header with it.",
    )

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookEndpointCreateSerializer(serializers.Serializer):
    url = StrictCharField(max_length=500, help_text="http(s) URL on a public host.")
    description = StrictCharField(max_length=100, required=False, allow_blank=True, default="")
    events = serializers.ListField(child=serializers.ChoiceField(choices=EventKind.choices), min_length=1)


class WebhookEndpointUpdateSerializer(serializers.Serializer):
    url = StrictCharField(max_length=500, required=False)
    description = StrictCharField(max_length=100, required=False, allow_blank=True)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EventKind.choices), min_length=1, required=False
    )
    is_active = StrictBooleanField(required=False, help_text="false: nothing is sent to it until set true again.")


class WebhookDeliverySerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    endpoint = serializers.UUIDField(source="endpoint.public_id", read_only=True)
    status = serializers.ChoiceField(choices=DeliveryStatus.choices, read_only=True)
    event = serializers.SerializerMethodField()

    class Meta:
        model = Delivery
        fields = [
            "id",
            "endpoint",
            "event",
            "status",
            "attempts",
            "next_attempt_at",
            "last_attempt_at",
            "last_status_code",
            "last_error",
            "delivered_at",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(WEBHOOK_EVENT)
    def get_event(self, delivery: Delivery) -> dict:
        return webhook_services.event_body(delivery.event)


class _StaffOnly:
    def initial(self, request, *args, **kwargs) -> None:  # noqa: ANN001
        super().initial(request, *args, **kwargs)
        require(request.user.is_msp_staff, "Webhooks are a staff setting, like API tokens.")


@extend_schema_view(
    list=extend_schema(summary="Webhook endpoints (staff)"),
    retrieve=extend_schema(summary="A webhook endpoint (staff); its secret is never shown again"),
    create=extend_schema(
        summary="Register a webhook endpoint (staff); the signing secret is in this response only",
        request=WebhookEndpointCreateSerializer,
        responses={201: WebhookEndpointSecretSerializer},
    ),
    partial_update=extend_schema(
        summary="Change a webhook endpoint's URL, events or active flag (staff)",
        request=WebhookEndpointUpdateSerializer,
        responses=WebhookEndpointSerializer,
    ),
    destroy=extend_schema(summary="Remove a webhook endpoint and its delivery log (staff)"),
)
class WebhookEndpointViewSet(_StaffOnly, mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    serializer_class = WebhookEndpointSerializer
    filter_backends = []
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):  # noqa: ANN201
        return selectors.endpoints_all().select_related("created_by")

    def create(self, request: Request, *args, **kwargs) -> Response:  # noqa: ANN002, ANN003
        require_recent_login(request)
        data = _valid(WebhookEndpointCreateSerializer, self)
        new = webhook_services.endpoint_create(
            url=data["url"], description=data["description"], events=data["events"], actor=request.user
        )
        new.endpoint.secret = new.secret
        return _out(WebhookEndpointSecretSerializer, new.endpoint, self, status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args, **kwargs) -> Response:  # noqa: ANN002, ANN003
        endpoint = self.get_object()
        data = _valid(WebhookEndpointUpdateSerializer, self)
        endpoint = webhook_services.endpoint_update(endpoint=endpoint, actor=request.user, **data)
        return _out(WebhookEndpointSerializer, endpoint, self)

    def destroy(self, request: Request, *args, **kwargs) -> Response:  # noqa: ANN002, ANN003
        webhook_services.endpoint_delete(endpoint=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Rotate the signing secret (staff): the new one is in this response only, the old one stops at once",
        request=None,
        responses=WebhookEndpointSecretSerializer,
    )
    @action(detail=True, methods=["post"], url_path="rotate-secret", filter_backends=[])
    def rotate_secret(self, request: Request, id: str | None = None) -> Response:  # noqa: A002
        require_recent_login(request)
        new = webhook_services.endpoint_rotate_secret(endpoint=self.get_object(), actor=request.user)
        new.endpoint.secret = new.secret
        return _out(WebhookEndpointSecretSerializer, new.endpoint, self)

    @extend_schema(
        summary="The endpoint's delivery log, newest first (staff)",
        responses=WebhookDeliverySerializer(many=True),
        filters=False,
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def deliveries(self, request: Request, id: str | None = None) -> Response:  # noqa: A002
        return self.page(selectors.deliveries_of(self.get_object()), WebhookDeliverySerializer)


@extend_schema_view(retrieve=extend_schema(summary="A webhook delivery with its event's body (staff)"))
class WebhookDeliveryViewSet(_StaffOnly, mixins.RetrieveModelMixin, ScopedViewSet):
    serializer_class = WebhookDeliverySerializer
    filter_backends = []

    def get_queryset(self):  # noqa: ANN201
        return selectors.deliveries_all()

    @extend_schema(
        summary="Send the delivery again (staff): the same event id, with a fresh day of retries",
        request=None,
        responses={202: WebhookDeliverySerializer},
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def resend(self, request: Request, id: str | None = None) -> Response:  # noqa: A002
        delivery = webhook_services.delivery_resend(delivery=self.get_object(), actor=request.user)
        return _out(WebhookDeliverySerializer, delivery, self, status.HTTP_202_ACCEPTED)


@extend_schema_view(
    list=extend_schema(
        summary="Webhook events, newest first (staff): every body sent, to catch up after an outage",
        responses=PolymorphicProxySerializer(
            component_name="WebhookEvent", serializers=EVENT_SERIALIZERS, resource_type_field_name="type", many=True
        ),
    ),
    retrieve=extend_schema(summary="One webhook event's body (staff)", responses=WEBHOOK_EVENT),
)
class WebhookEventViewSet(_StaffOnly, mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    filter_backends = []

    def get_queryset(self):  # noqa: ANN201
        return Event.objects.order_by("-created_at", "-id")

    def get_serializer_class(self):  # noqa: ANN201
        return _EventBodySerializer

    def list(self, request: Request, *args, **kwargs) -> Response:  # noqa: ANN002, ANN003
        return self.page(self.get_queryset(), _EventBodySerializer)

    def retrieve(self, request: Request, *args, **kwargs) -> Response:  # noqa: ANN002, ANN003
        return Response(webhook_services.event_body(self.get_object()))


class _EventBodySerializer(serializers.BaseSerializer):
    def to_representation(self, instance: Event) -> dict:
        return webhook_services.event_body(instance)
