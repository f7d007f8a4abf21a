"""The REST API (issue 6): thin views over the scoped selectors and the services.

Every object is fetched through a *_for_user selector, so another client's
object is "not found" (404) exactly like one that does not exist, and lists
only ever hold what the caller may see. A role that may not use an endpoint
or action gets the same 404 (`require`), never a 403 that would confirm it is
there. Every write calls a service; service errors become the one JSON error
shape in api.exceptions.
"""

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import DecimalField, OuterRef, Prefetch, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.http import FileResponse, HttpResponse
from django.urls import reverse
from django.utils.translation import gettext
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import services as account_services
from accounts.reauth import login_is_recent
from agreements import services as agreement_services
from agreements.models import Agreement, Block, BusinessHours, ClientContact, Holiday, Tier, Timer, WorkType
from agreements.runway import runway_attach, with_runway
from agreements.selectors import (
    agreements_for_user,
    clients_for_user,
    estimates_for_user,
    ledger_with_running_balance,
    questions_for_user,
    tickets_for_user,
    time_entries_for_user,
)
from agreements.services import calendar as calendar_services
from api import serializers as s
from api.filters import (
    AgreementFilter,
    ClientFilter,
    CreditNoteFilter,
    InvoiceFilter,
    RunwayOrderingFilter,
    StrictFilterBackend,
    TicketFilter,
    TierFilter,
    TimeEntryFilter,
)
from api.idempotency import HEADER as IDEMPOTENCY_HEADER
from api.idempotency import run_idempotent
from api.models import ApiToken
from api.pagination import Pagination
from api.services import token_create, token_revoke
from billing import services as billing_services
from billing.credit_notes import credit_note_pdf_name
from billing.models import InvoiceStatus, Payment
from billing.selectors import credit_notes_for_user, invoices_for_user
from notifications import estimates as estimate_notify
from notifications import questions as question_notify
from notifications import services as notification_services
from notifications.tasks import queue_agreement_check, queue_sending
from portal import services as portal_services

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    {"type": "string", "pattern": r"^[\x21-\x7e]{1,200}$", "minLength": 1, "maxLength": 200},
    OpenApiParameter.HEADER,
    required=False,
    description=(
        "Any unique string (a UUID is best). A retry with the same key and body replays the first response "
        "and changes nothing; the same key with another body answers 422. Keys are kept per user for "
        "API_IDEMPOTENCY_KEY_HOURS (24 h by default)."
    ),
)


def require(condition: bool, why: str) -> None:
    """A role check: when it fails, 404 exactly like an unknown URL or object.

    `why` documents the rule for readers; it is not sent, since a reason would
    tell the caller the endpoint exists and is merely closed to them."""
    if not condition:
        raise exceptions.NotFound()  # DRF's "Not found.", in the caller's language


def require_recent_login(request: Request) -> None:
    """The pages' re-authentication rule (accounts.reauth) for sensitive writes
    from a browser session: 403 `reauthentication_required` once the sign-in
    is older than REAUTH_AFTER_HOURS. A request with an API token is exempt:
    the token is the credential."""
    if isinstance(request.successful_authenticator, SessionAuthentication) and not login_is_recent(request):
        raise exceptions.PermissionDenied(
            gettext("Your sign-in is more than %(hours)d hours old: confirm your password at %(url)s, then retry.")
            % {"hours": settings.REAUTH_AFTER_HOURS, "url": reverse("reauth")},
            code="reauthentication_required",
        )


def _uuid_or_404(value: object) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise exceptions.NotFound() from None


def _block_of_or_404(agreement: Agreement, block_id: object) -> Block:
    """A block the URL names under its agreement; another agreement's is 404."""
    try:
        return Block.objects.get(agreement=agreement, public_id=_uuid_or_404(block_id))
    except Block.DoesNotExist:
        raise exceptions.NotFound() from None


class ScopedViewSet(viewsets.GenericViewSet):
    """Objects by public UUID inside the caller's scoped queryset, or 404."""

    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    # Any path segment reaches the view, so a malformed id is a JSON 404 like an unknown one.
    lookup_value_regex = "[^/]+"
    pagination_class = Pagination
    filter_backends = [StrictFilterBackend, OrderingFilter]

    def get_object(self):  # noqa: ANN201
        queryset = self.get_queryset()
        key = _uuid_or_404(self.kwargs[self.lookup_url_kwarg])
        try:
            obj = queryset.get(public_id=key)
        except queryset.model.DoesNotExist:
            raise exceptions.NotFound() from None
        self.check_object_permissions(self.request, obj)
        return obj

    def page(self, queryset, serializer_class) -> Response:  # noqa: ANN001
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(
            serializer_class(page, many=True, context=self.get_serializer_context()).data
        )


def _out(serializer_class, instance, viewset, code: int = status.HTTP_200_OK) -> Response:  # noqa: ANN001
    return Response(serializer_class(instance, context=viewset.get_serializer_context()).data, status=code)


def _invoices_with_amount_paid(user):  # noqa: ANN001, ANN202
    """The invoices the user may see, each with the sum of its payments (InvoiceSerializer reads it)."""
    paid = (
        Payment.objects.filter(invoice=OuterRef("pk"))
        .order_by()
        .values("invoice")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    money = DecimalField(max_digits=12, decimal_places=2)
    return (
        invoices_for_user(user)
        .annotate(amount_paid=Coalesce(Subquery(paid, output_field=money), Value(0, output_field=money)))
        .prefetch_related(Prefetch("lines"))
        .order_by("-created_at", "-id")
    )


def _valid(serializer_class, viewset) -> dict:  # noqa: ANN001
    serializer = serializer_class(data=viewset.request.data, context=viewset.get_serializer_context())
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


# ---------------------------------------------------------------------------
# Catalogue


@extend_schema_view(list=extend_schema(summary="Block tiers on sale"), retrieve=extend_schema(summary="A tier"))
class TierViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    lookup_value_regex = "[^/]+"
    queryset = Tier.objects.all()
    serializer_class = s.TierSerializer
    pagination_class = Pagination
    filter_backends = [StrictFilterBackend, OrderingFilter]
    filterset_class = TierFilter
    ordering_fields = ["hours", "name"]


@extend_schema_view(
    list=extend_schema(summary="Work types and their multipliers"), retrieve=extend_schema(summary="A work type")
)
class WorkTypeViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    lookup_value_regex = "[^/]+"
    queryset = WorkType.objects.all()
    serializer_class = s.WorkTypeSerializer
    pagination_class = Pagination
    filter_backends = [StrictFilterBackend, OrderingFilter]
    filterset_fields = ["is_active"]
    ordering_fields = ["name", "multiplier"]


# ---------------------------------------------------------------------------
# Clients and tickets


@extend_schema_view(
    list=extend_schema(summary="Clients you may see"),
    retrieve=extend_schema(summary="A client"),
    create=extend_schema(
        summary="Create a client (staff)", request=s.ClientCreateSerializer, responses={201: s.ClientSerializer}
    ),
)
class ClientViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    serializer_class = s.ClientSerializer
    filterset_class = ClientFilter
    ordering_fields = ["name", "created_at"]
    ordering = ["name"]

    def get_queryset(self):  # noqa: ANN201
        return clients_for_user(self.request.user).order_by("name")

    def create(self, request, *args, **kwargs) -> Response:  # noqa: ANN001
        require(request.user.is_msp_staff, "Only MSP staff can create clients.")
        data = _valid(s.ClientCreateSerializer, self)
        client = agreement_services.client_create(**data)
        return _out(s.ClientSerializer, client, self, status.HTTP_201_CREATED)

    @extend_schema(summary="The client's contacts", responses=s.ContactSerializer(many=True), filters=False)
    @action(detail=True, methods=["get"], filter_backends=[])
    def contacts(self, request, id=None) -> Response:  # noqa: A002, ANN001
        client = self.get_object()
        contacts = ClientContact.objects.filter(client=client).select_related("user").order_by("user__username")
        return self.page(contacts, s.ContactSerializer)

    @extend_schema(
        summary="Add a contact to the client (staff); an invitation email lets them choose a password",
        request=s.ContactCreateSerializer,
        responses={201: s.ContactSerializer},
    )
    @contacts.mapping.post
    def add_contact(self, request, id=None) -> Response:  # noqa: A002, ANN001
        client = self.get_object()
        require(request.user.is_msp_staff, "Only MSP staff can add client contacts.")
        data = _valid(s.ContactCreateSerializer, self)
        contact = agreement_services.client_contact_invite(client=client, invited_by=request.user, **data)
        return _out(s.ContactSerializer, contact, self, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Invite a contact again (staff): a new link by email; earlier links stop working",
        request=None,
        responses={201: s.ContactSerializer},
        filters=False,
    )
    @action(
        detail=True,
        methods=["post"],
        url_path=r"contacts/(?P<username>[^/]+)/invitation",
        url_name="contact-invitation",
        filter_backends=[],
    )
    def contact_invitation(self, request, id=None, username=None) -> Response:  # noqa: A002, ANN001
        client = self.get_object()
        require(request.user.is_msp_staff, "Only MSP staff can invite client contacts.")
        contact = ClientContact.objects.filter(client=client, user__username=username).select_related("user").first()
        if contact is None:  # unknown, or another client's contact: like any unknown object
            raise exceptions.NotFound()
        account_services.invitation_send(user=contact.user, invited_by=request.user, language=client.language)
        return _out(s.ContactSerializer, contact, self, status.HTTP_201_CREATED)


@extend_schema_view(
    list=extend_schema(summary="Tickets you may see"),
    retrieve=extend_schema(summary="A ticket"),
    create=extend_schema(
        summary="Find or create a ticket by number (staff and technicians)",
        request=s.TicketCreateSerializer,
        responses={201: s.TicketSerializer},
    ),
)
class TicketViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    serializer_class = s.TicketSerializer
    filterset_class = TicketFilter
    ordering_fields = ["created_at", "number"]
    ordering = ["-created_at", "-id"]

    def get_queryset(self):  # noqa: ANN201
        return tickets_for_user(self.request.user).select_related("client").order_by("-created_at", "-id")

    def create(self, request, *args, **kwargs) -> Response:  # noqa: ANN001
        require(request.user.works_for_msp, "Only staff and technicians can create tickets.")
        data = _valid(s.TicketCreateSerializer, self)
        ticket = agreement_services.ticket_get_or_create(**data)
        return _out(s.TicketSerializer, ticket, self, status.HTTP_201_CREATED)


# ---------------------------------------------------------------------------
# Agreements: balance, runway, ledger, purchases, adjustments


@extend_schema_view(
    list=extend_schema(summary="Agreements with balance and runway"),
    retrieve=extend_schema(summary="An agreement with balance and runway"),
    create=extend_schema(
        summary="Create an agreement (staff)",
        request=s.AgreementCreateSerializer,
        responses={201: s.AgreementSerializer},
    ),
    partial_update=extend_schema(
        summary="Change an agreement's settings, its place in the client's order or the work types it covers (staff)",
        request=s.AgreementUpdateSerializer,
        responses={200: s.AgreementSerializer},
    ),
)
class AgreementViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    serializer_class = s.AgreementSerializer
    filterset_class = AgreementFilter
    filter_backends = [StrictFilterBackend, RunwayOrderingFilter]
    ordering_fields = ["balance_minutes", "runway_days", "starts_on", "created_at", "name", "position"]
    ordering = ["client__name", "position"]

    def get_queryset(self):  # noqa: ANN201
        # Each client's agreements in the order they take time logged for the client.
        agreements = agreements_for_user(self.request.user).order_by("client__name", "position", "id")
        # Lists read every row's runway in the same queries and prefetch the work types;
        # one agreement gets its runway from runway_attach, far less Python to build.
        return with_runway(agreements).prefetch_related("work_types") if self.action == "list" else agreements

    def retrieve(self, request, *args, **kwargs) -> Response:  # noqa: ANN001
        return _out(s.AgreementSerializer, runway_attach(self.get_object()), self)

    def create(self, request, *args, **kwargs) -> Response:  # noqa: ANN001
        require(request.user.is_msp_staff, "Only MSP staff can create agreements.")
        data = dict(_valid(s.AgreementCreateSerializer, self))
        agreement = agreement_services.agreement_create(
            client=data.pop("client"), work_types=data.pop("work_types", None), actor=request.user, **data
        )
        return _out(
            s.AgreementSerializer,
            runway_attach(self.get_queryset().get(pk=agreement.pk)),
            self,
            status.HTTP_201_CREATED,
        )

    def partial_update(self, request, *args, **kwargs) -> Response:  # noqa: ANN001
        agreement = self.get_object()
        require(request.user.is_msp_staff, "Only MSP staff can change an agreement.")
        data = _valid(s.AgreementUpdateSerializer, self)
        settings_changed = {name: data[name] for name in agreement_services.AGREEMENT_SETTINGS if name in data}
        with transaction.atomic():  # every change, or none
            if settings_changed:
                agreement_services.agreement_update(agreement=agreement, actor=request.user, **settings_changed)
            if "work_types" in data:
                agreement_services.agreement_set_work_types(
                    agreement=agreement, work_types=data["work_types"], actor=request.user
                )
            if "position" in data:
                agreement_services.agreement_reorder(agreement=agreement, position=data["position"], actor=request.user)
        return _out(s.AgreementSerializer, runway_attach(self.get_queryset().get(pk=agreement.pk)), self)

    @extend_schema(
        summary="The agreement's ledger, oldest first, with the balance after each entry",
        responses=s.LedgerEntrySerializer(many=True),
        filters=False,
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def ledger(self, request, id=None) -> Response:  # noqa: A002, ANN001
        agreement = self.get_object()
        return self.page(ledger_with_running_balance(agreement), s.LedgerEntrySerializer)

    @extend_schema(
        summary="Blocks sold on the agreement (staff and the client's contacts)",
        responses=s.BlockSerializer(many=True),
        filters=False,
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def purchases(self, request, id=None) -> Response:  # noqa: A002, ANN001
        agreement = self.get_object()
        require(not request.user.is_technician, "Purchases are billing data; technicians do not see them.")
        blocks = (
            Block.objects.filter(agreement=agreement)
            .select_related("moved_from")
            .order_by("starts_on", "created_at", "id")
        )
        return self.page(blocks, s.BlockSerializer)

    @extend_schema(
        summary="Sell a block and issue its invoice (staff)",
        description="A tier or custom whole hours. Under the usable-at-once credit policy the hours are credited "
        "now; otherwise when the invoice is paid (POST /invoices/{id}/payments/).",
        request=s.PurchaseSerializer,
        responses={201: s.PurchaseResultSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    @purchases.mapping.post
    def purchase(self, request, id=None) -> Response:  # noqa: A002, ANN001
        agreement = self.get_object()
        require(request.user.is_msp_staff, "Only MSP staff can sell blocks.")
        require_recent_login(request)

        def perform() -> Response:
            data = _valid(s.PurchaseSerializer, self)
            sale = billing_services.block_sale_invoices(
                agreement=agreement, actor=request.user, tier=data.get("tier"), hours=data.get("hours")
            )
            balance = Agreement.objects.values_list("balance_minutes", flat=True).get(pk=agreement.pk)
            result = {
                "block": sale.invoice.block,
                "invoice": sale.invoice,
                "overage_invoice": sale.overage_invoice,
                "balance_minutes": balance,
            }
            return _out(s.PurchaseResultSerializer, result, self, status.HTTP_201_CREATED)

        return run_idempotent(request, perform)

    @extend_schema(
        summary="Bill the agreement's unbilled overage now (staff)",
        description="Bill-overage agreements: every minute charged beyond the blocks and not billed yet goes on "
        "an issued invoice, at the agreement's overage rate (else the client's hourly rate). The monthly close "
        "and every block sale do the same; a minute is never billed twice.",
        request=None,
        responses={201: s.InvoiceSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    @action(detail=True, methods=["post"], url_path="overage-invoice", filter_backends=[])
    def overage_invoice(self, request, id=None) -> Response:  # noqa: A002, ANN001
        agreement = self.get_object()
        require(request.user.is_msp_staff, "Only MSP staff can bill overage.")
        require_recent_login(request)

        def perform() -> Response:
            invoice = billing_services.invoice_bill_overage(agreement=agreement, actor=request.user)
            if invoice is None:
                raise ValidationError(gettext("There is no unbilled overage on this agreement."))
            invoice = _invoices_with_amount_paid(request.user).get(pk=invoice.pk)
            return _out(s.InvoiceSerializer, invoice, self, status.HTTP_201_CREATED)

        return run_idempotent(request, perform)

    @extend_schema(
        summary="Adjust the balance with a reason (staff)",
        request=s.AdjustmentSerializer,
        responses={201: s.AdjustmentResultSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def adjustments(self, request, id=None) -> Response:  # noqa: A002, ANN001
        agreement = self.get_object()
        require(request.user.is_msp_staff, "Only MSP staff can adjust a balance.")
        require_recent_login(request)

        def perform() -> Response:
            data = _valid(s.AdjustmentSerializer, self)
            entries = agreement_services.ledger_adjust(
                agreement=agreement, minutes=data["minutes"], reason=data["reason"], author=request.user
            )
            balance = Agreement.objects.values_list("balance_minutes", flat=True).get(pk=agreement.pk)
            return _out(s.AdjustmentResultSerializer, {"entries": entries, "balance_minutes": balance}, self, 201)

        return run_idempotent(request, perform)

    @extend_schema(
        summary="Grant free (goodwill) hours (staff)",
        description="A goodwill block: credited at once, rate and amount 0, no invoice; its hours carry no "
        "deferred revenue. The reason is kept in the ledger and the audit log.",
        request=s.GoodwillSerializer,
        responses={201: s.GoodwillResultSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def goodwill(self, request, id=None) -> Response:  # noqa: A002, ANN001
        agreement = self.get_object()
        require(request.user.is_msp_staff, "Only MSP staff can grant goodwill hours.")
        require_recent_login(request)

        def perform() -> Response:
            data = _valid(s.GoodwillSerializer, self)
            grant = agreement_services.block_grant_goodwill(
                agreement=agreement,
                minutes=data["minutes"],
                reason=data["reason"],
                expires_on=data.get("expires_on"),
                actor=request.user,
            )
            balance = Agreement.objects.values_list("balance_minutes", flat=True).get(pk=agreement.pk)
            out = {"block": grant.block, "entries": grant.entries, "balance_minutes": balance}
            return _out(s.GoodwillResultSerializer, out, self, 201)

        return run_idempotent(request, perform)

    @extend_schema(
        summary="Move a block's unused hours to another agreement of the client (staff)",
        description="`minutes` of the block's unused minutes go to a new block on `to_agreement`, at the block's "
        "rate, with its expiry and paid state; the deferred revenue moves with them. Refused for another "
        "client's agreement, an ended one, an unpaid, expired or cancelled block, or more than is unused.",
        request=s.HoursMoveSerializer,
        responses={201: s.HoursMoveResultSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    @action(
        detail=True,
        methods=["post"],
        url_path=r"purchases/(?P<block_id>[^/]+)/move",
        url_name="purchase-move",
        filter_backends=[],
    )
    def purchase_move(self, request, id=None, block_id=None) -> Response:  # noqa: A002, ANN001
        agreement = self.get_object()
        require(request.user.is_msp_staff, "Only MSP staff can move hours.")
        require_recent_login(request)
        block = _block_of_or_404(agreement, block_id)

        def perform() -> Response:
            data = _valid(s.HoursMoveSerializer, self)
            move = agreement_services.block_hours_move(
                block=block,
                to_agreement=data["to_agreement"],
                minutes=data["minutes"],
                reason=data["reason"],
                actor=request.user,
            )
            moved = move.block
            balances = dict(
                Agreement.objects.filter(pk__in=[agreement.pk, moved.agreement_id]).values_list("pk", "balance_minutes")
            )
            out = {
                "block": Block.objects.select_related("moved_from").get(pk=moved.pk),
                "from_block": Block.objects.select_related("moved_from").get(pk=block.pk),
                "entries": move.entries,
                "balance_minutes": balances[agreement.pk],
                "to_balance_minutes": balances[moved.agreement_id],
            }
            return _out(s.HoursMoveResultSerializer, out, self, 201)

        return run_idempotent(request, perform)

    def _cancelled(self, result, agreement) -> Response:  # noqa: ANN001
        balance = Agreement.objects.values_list("balance_minutes", flat=True).get(pk=agreement.pk)
        notes = list(credit_notes_for_user(self.request.user).filter(pk__in=[n.pk for n in result.credit_notes]))
        out = {
            "agreement": result.agreement,
            "changed": result.changed,
            "refunded_minutes": result.refunded_minutes,
            "forfeited_minutes": result.forfeited_minutes,
            "credit_notes": sorted(notes, key=lambda note: note.number),
            "balance_minutes": balance,
        }
        return _out(s.CancellationResultSerializer, out, self)

    @extend_schema(
        summary="Cancel the agreement (staff): refund or forfeit every block's unused hours, and end it",
        description="refund: a credit note against each paid block's invoice, emailed to the billing contacts; "
        "forfeit: the hours become breakage. Refused while a block sale is unpaid (void its invoice first). "
        "Cancelling an ended agreement changes nothing and answers `changed: false`.",
        request=s.CancellationSerializer,
        responses={200: s.CancellationResultSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def cancel(self, request, id=None) -> Response:  # noqa: A002, ANN001
        agreement = self.get_object()
        require(request.user.is_msp_staff, "Only MSP staff can cancel an agreement.")
        require_recent_login(request)

        def perform() -> Response:
            data = _valid(s.CancellationSerializer, self)
            result = notification_services.agreement_cancel_and_notify(
                agreement=agreement, actor=request.user, send=queue_sending, **data
            )
            return self._cancelled(result, agreement)

        return run_idempotent(request, perform)

    @extend_schema(
        summary="Refund or forfeit a block's unused hours (staff)",
        description="All unused minutes, or `minutes` of them; the block may be partly used. A refund issues a "
        "credit note against the block's paid invoice and emails it.",
        request=s.BlockCancellationSerializer,
        responses={200: s.CancellationResultSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    @action(
        detail=True,
        methods=["post"],
        url_path=r"purchases/(?P<block_id>[^/]+)/cancel",
        url_name="purchase-cancel",
        filter_backends=[],
    )
    def purchase_cancel(self, request, id=None, block_id=None) -> Response:  # noqa: A002, ANN001
        agreement = self.get_object()
        require(request.user.is_msp_staff, "Only MSP staff can refund or forfeit hours.")
        require_recent_login(request)
        block = _block_of_or_404(agreement, block_id)

        def perform() -> Response:
            data = _valid(s.BlockCancellationSerializer, self)
            result = notification_services.block_unused_cancel_and_notify(
                block=block, actor=request.user, send=queue_sending, **data
            )
            return self._cancelled(result, agreement)

        return run_idempotent(request, perform)

    @extend_schema(
        summary="Change a block's expiry date (staff)",
        description="Extend or shorten it, never before today, or `null` for no expiry; refused for an expired "
        "or cancelled block. Recorded in the ledger (an `expiry_change` entry of 0 minutes naming both dates "
        "and the reason) and in the audit log.",
        request=s.ExpiryChangeSerializer,
        responses={200: s.ExpiryChangeResultSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    @action(
        detail=True,
        methods=["post"],
        url_path=r"purchases/(?P<block_id>[^/]+)/expiry",
        url_name="purchase-expiry",
        filter_backends=[],
    )
    def purchase_expiry(self, request, id=None, block_id=None) -> Response:  # noqa: A002, ANN001
        agreement = self.get_object()
        require(request.user.is_msp_staff, "Only MSP staff can change a block's expiry.")
        require_recent_login(request)
        block = _block_of_or_404(agreement, block_id)

        def perform() -> Response:
            data = _valid(s.ExpiryChangeSerializer, self)
            previous = Block.objects.values_list("expires_on", flat=True).get(pk=block.pk)
            entry = agreement_services.block_expiry_change(
                block=block, expires_on=data["expires_on"], actor=request.user, reason=data["reason"]
            )
            result = {
                "block": Block.objects.get(pk=block.pk),
                "previous_expires_on": previous,
                "reason": data["reason"].strip(),
                "entry": entry,
            }
            return _out(s.ExpiryChangeResultSerializer, result, self)

        return run_idempotent(request, perform)


# ---------------------------------------------------------------------------
# Time entries


@extend_schema_view(
    list=extend_schema(summary="Time entries you may see"),
    retrieve=extend_schema(summary="A time entry"),
    create=extend_schema(
        summary="Log time and charge it to the agreement (technicians and staff)",
        description="The entry is logged for the caller. Give the agreement to charge, or the client: then the "
        "client's first agreement in the order staff set that is active, covers the work type and can take the "
        "time under its overage policy is charged, and the response names it; when none can, a 400 says why for "
        "each. Retries with the same Idempotency-Key charge once.",
        request=s.TimeEntryCreateSerializer,
        responses={201: s.TimeEntrySerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
    ),
)
class TimeEntryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    serializer_class = s.TimeEntrySerializer
    filterset_class = TimeEntryFilter
    ordering_fields = ["work_date", "created_at", "charged_minutes"]
    # The default order replaces get_queryset's: the id breaks ties (stable pages) and matches the index.
    ordering = ["-work_date", "-created_at", "-id"]

    def get_queryset(self):  # noqa: ANN201
        return (
            time_entries_for_user(self.request.user)
            .select_related("corrects")
            .order_by("-work_date", "-created_at", "-id")
        )

    def create(self, request, *args, **kwargs) -> Response:  # noqa: ANN001
        require(request.user.works_for_msp, "Only technicians and staff can log time.")
        key = request.headers.get(IDEMPOTENCY_HEADER)

        def perform() -> Response:
            data = _valid(s.TimeEntryCreateSerializer, self)
            client = data["agreement"].client if "agreement" in data else data["client"]
            ticket = data.get("ticket") or agreement_services.ticket_get_or_create(
                client=client, number=data["ticket_number"], subject=data["ticket_subject"]
            )
            entry_fields = {
                "technician": request.user,
                "ticket": ticket,
                "work_date": data["work_date"],
                "started_at": data["started_at"],
                "minutes": data["minutes"],
                "work_type": data["work_type"],
                "notes": data["notes"],
                # The service's own key check backs ours up, and outlives its expiry.
                "idempotency_key": key,
            }
            if "agreement" in data:
                entry = agreement_services.time_entry_log(agreement=data["agreement"], **entry_fields)
            else:
                entry = agreement_services.time_entry_log_for_client(client=client, **entry_fields)
            queue_agreement_check(entry.agreement_id)  # a low or exhausted balance is noticed at once
            entry.agreement.client = client  # the entry's agreement is always the client's (the service checks it)
            # Serialized from the objects in hand: no query while the agreement row is locked.
            return _out(s.TimeEntrySerializer, entry, self, status.HTTP_201_CREATED)

        return run_idempotent(request, perform)

    @extend_schema(
        summary="Void an entry: its minutes go back to the balance (own entries; staff any)",
        request=s.VoidSerializer,
        responses=s.TimeEntrySerializer,
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def void(self, request, id=None) -> Response:  # noqa: A002, ANN001
        entry = self.get_object()
        require(request.user.works_for_msp, "Client contacts see their entries but never change them.")
        data = _valid(s.VoidSerializer, self)
        agreement_services.time_entry_void(time_entry=entry, actor=request.user, reason=data["reason"])
        return _out(s.TimeEntrySerializer, self.get_queryset().get(pk=entry.pk), self)


# ---------------------------------------------------------------------------
# The technician's timer


TIMER_ID = OpenApiParameter(
    "id",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description="The timer's id, or `current` for your own running timer.",
)


@extend_schema_view(
    list=extend_schema(summary="Running timers: your own (staff: every technician's)"),
    retrieve=extend_schema(summary="A running timer; `current` is your own", parameters=[TIMER_ID]),
    create=extend_schema(
        summary="Start your timer on a ticket (one runs per technician)",
        request=s.TimerStartSerializer,
        responses={201: s.TimerSerializer},
    ),
    destroy=extend_schema(
        summary="Discard your timer: nothing is logged", parameters=[TIMER_ID], responses={204: None}
    ),
)
class TimerViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, ScopedViewSet):
    """A timer lives on the server, so it survives a reload and a change of
    device. Stopping it logs nothing: it answers the elapsed minutes and a
    time-entry body for the technician to confirm and post."""

    serializer_class = s.TimerSerializer
    filter_backends = []
    ordering = ["started_at"]

    def get_queryset(self):  # noqa: ANN201
        timers = Timer.objects.select_related("technician", "client", "agreement", "ticket").order_by(
            "started_at", "id"
        )
        user = self.request.user
        if user.is_msp_staff:
            return timers
        if user.works_for_msp:
            return timers.filter(technician=user)  # another technician's timer is "not found"
        return timers.none()

    def get_object(self):  # noqa: ANN201
        if self.kwargs[self.lookup_url_kwarg] == "current":
            timer = self.get_queryset().filter(technician=self.request.user).first()
            if timer is None:
                raise exceptions.NotFound()
            return timer
        return super().get_object()

    def _own(self) -> Timer:
        """Stop and discard act on the caller's own timer only; staff see others' but never stop them."""
        timer = self.get_object()
        require(timer.technician_id == self.request.user.pk, "Only the technician stops or discards a timer.")
        return timer

    def create(self, request, *args, **kwargs) -> Response:  # noqa: ANN001
        require(request.user.works_for_msp, "Only technicians and staff run timers.")
        data = _valid(s.TimerStartSerializer, self)
        client = data["agreement"].client if "agreement" in data else data["client"]
        with transaction.atomic():  # a refused start leaves no new ticket behind
            ticket = data.get("ticket") or agreement_services.ticket_get_or_create(
                client=client, number=data["ticket_number"], subject=data["ticket_subject"]
            )
            timer = agreement_services.timer_start(
                technician=request.user,
                client=client,
                agreement=data.get("agreement"),
                ticket=ticket,
                work_type=data["work_type"],
                notes=data["notes"],
            )
        return _out(s.TimerSerializer, self.get_queryset().get(pk=timer.pk), self, status.HTTP_201_CREATED)

    def destroy(self, request, *args, **kwargs) -> Response:  # noqa: ANN001
        self._own()
        agreement_services.timer_discard(technician=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Stop your timer: the elapsed minutes and a time-entry body to confirm (nothing is logged)",
        parameters=[TIMER_ID],
        request=None,
        responses=s.TimerStopSerializer,
    )
    @action(detail=True, methods=["post"])
    def stop(self, request, id=None) -> Response:  # noqa: A002, ANN001
        self._own()
        stopped = agreement_services.timer_stop(technician=request.user)
        body = {
            "ticket": stopped.ticket.public_id,
            "work_date": stopped.work_date,
            "started_at": stopped.prefill["started_at"],
            "minutes": stopped.minutes,
            "work_type": stopped.work_type.pk,
            "notes": stopped.notes,
        }
        if stopped.agreement is not None:
            body["agreement"] = stopped.agreement.public_id
        else:
            body["client"] = stopped.client.public_id
        answer = {
            "minutes": stopped.minutes,
            "started_at": stopped.started_at,
            "crosses_midnight": stopped.crosses_midnight(),
            "time_entry": body,
        }
        return Response(s.TimerStopSerializer(answer, context=self.get_serializer_context()).data)


# Questioned charges


@extend_schema_view(
    list=extend_schema(summary="Questioned charges: staff see every client's, a client contact their own"),
    retrieve=extend_schema(summary="A questioned charge and its outcome"),
    create=extend_schema(
        summary="Question a charge (client contacts)",
        description="One open question per entry; entries worked within QUESTION_WINDOW_DAYS (90 by default). "
        "Staff are emailed. Another client's entry answers 400 'No time entry' like an unknown id.",
        request=s.QuestionCreateSerializer,
        responses={201: s.QuestionSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
    ),
)
class QuestionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    serializer_class = s.QuestionSerializer
    filter_backends = [OrderingFilter]
    ordering_fields = ["created_at", "resolved_at"]
    ordering = ["-created_at", "-id"]

    def initial(self, request, *args, **kwargs) -> None:  # noqa: ANN001
        super().initial(request, *args, **kwargs)
        # Technicians log time; questions are between the client and staff.
        require(request.user.is_msp_staff or request.user.is_client_contact, "Staff and client contacts only.")

    def get_queryset(self):  # noqa: ANN201
        return questions_for_user(self.request.user).order_by("-created_at", "-id")

    def create(self, request, *args, **kwargs) -> Response:  # noqa: ANN001
        require(request.user.is_client_contact, "Client contacts question charges; staff answer them.")

        def perform() -> Response:
            data = _valid(s.QuestionCreateSerializer, self)
            question = question_notify.question_raise_and_notify(
                time_entry=data["time_entry"], raised_by=request.user, reason=data["reason"], send=queue_sending
            )
            return _out(s.QuestionSerializer, self.get_queryset().get(pk=question.pk), self, status.HTTP_201_CREATED)

        return run_idempotent(request, perform)

    @extend_schema(
        summary="Answer a questioned charge: explain, credit or correct (staff)",
        description="Exactly once: a question already answered answers 400 and changes nothing. The client's "
        "contacts are emailed. Under bill-overage, minutes already billed as overage are refused (a credit "
        "note on that invoice gives them back).",
        request=s.QuestionResolveSerializer,
        responses=s.QuestionSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def resolve(self, request, id=None) -> Response:  # noqa: A002, ANN001
        question = self.get_object()
        require(request.user.is_msp_staff, "Only MSP staff answer questions.")
        require_recent_login(request)

        def perform() -> Response:
            data = _valid(s.QuestionResolveSerializer, self)
            common = {"question": question, "actor": request.user, "reply": data["reply"], "send": queue_sending}
            if data["outcome"] == "explained":
                question_notify.question_explain_and_notify(**common)
            elif data["outcome"] == "credited":
                question_notify.question_credit_and_notify(minutes=data["minutes"], **common)
            else:
                question_notify.question_correct_and_notify(
                    minutes=data.get("corrected_minutes"), notes=data.get("notes"), **common
                )
            return _out(s.QuestionSerializer, self.get_queryset().get(pk=question.pk), self)

        return run_idempotent(request, perform)


# ---------------------------------------------------------------------------
# Estimates


@extend_schema_view(
    list=extend_schema(summary="Estimates: staff and technicians see every client's, a client contact their own"),
    retrieve=extend_schema(summary="An estimate and its decision"),
    create=extend_schema(
        summary="Estimate a ticket's work (staff, technicians)",
        description="The client's order chooses the agreement for the work type. Approved at once when the usable "
        "balance less the other open estimates covers the charge; else it waits and the client's billing "
        "contacts are emailed approve and decline links.",
        request=s.EstimateCreateSerializer,
        responses={201: s.EstimateSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
    ),
)
class EstimateViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    serializer_class = s.EstimateSerializer
    filter_backends = [OrderingFilter]
    ordering_fields = ["created_at"]
    ordering = ["-created_at", "-id"]

    def get_queryset(self):  # noqa: ANN201
        return estimates_for_user(self.request.user).order_by("-created_at", "-id")

    def create(self, request, *args, **kwargs) -> Response:  # noqa: ANN001
        require(request.user.works_for_msp, "Technicians and staff estimate work.")

        def perform() -> Response:
            data = _valid(s.EstimateCreateSerializer, self)
            estimate = estimate_notify.estimate_create_and_notify(
                ticket=data["ticket"],
                actor=request.user,
                minutes=data["minutes"],
                work_type=data["work_type"],
                description=data["description"],
                send=queue_sending,
            )
            return _out(s.EstimateSerializer, self.get_queryset().get(pk=estimate.pk), self, status.HTTP_201_CREATED)

        return run_idempotent(request, perform)

    @extend_schema(
        summary="Cancel an open estimate (staff, technicians)",
        description="It reserves nothing more. An estimate already declined or cancelled answers 400.",
        request=None,
        responses=s.EstimateSerializer,
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def cancel(self, request, id=None) -> Response:  # noqa: A002, ANN001
        estimate = self.get_object()
        require(request.user.works_for_msp, "Technicians and staff cancel estimates.")
        agreement_services.estimate_cancel(estimate=estimate, actor=request.user)
        return _out(s.EstimateSerializer, self.get_queryset().get(pk=estimate.pk), self)

    @extend_schema(
        summary="Approve a waiting estimate (client contacts)",
        description="Exactly once: an estimate already decided answers 400 and changes nothing. With `tier`, "
        "an hours request for that block is made too. The technician who estimated and staff are emailed.",
        request=s.EstimateApproveSerializer,
        responses=s.EstimateSerializer,
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def approve(self, request, id=None) -> Response:  # noqa: A002, ANN001
        estimate = self.get_object()
        require(request.user.is_client_contact, "Client contacts approve estimates.")
        data = _valid(s.EstimateApproveSerializer, self)
        portal_services.estimate_approve(estimate=estimate, actor=request.user, tier=data["tier"], send=queue_sending)
        return _out(s.EstimateSerializer, self.get_queryset().get(pk=estimate.pk), self)

    @extend_schema(
        summary="Decline a waiting estimate (client contacts)",
        description="Exactly once, like approve. The technician who estimated and staff are emailed.",
        request=None,
        responses=s.EstimateSerializer,
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def decline(self, request, id=None) -> Response:  # noqa: A002, ANN001
        estimate = self.get_object()
        require(request.user.is_client_contact, "Client contacts decline estimates.")
        estimate_notify.estimate_decline_and_notify(estimate=estimate, actor=request.user, send=queue_sending)
        return _out(s.EstimateSerializer, self.get_queryset().get(pk=estimate.pk), self)


# ---------------------------------------------------------------------------
# The MSP's business-hours calendar (staff)


@extend_schema_view(
    list=extend_schema(summary="Business hours per weekday, in the MSP's local time (staff)"),
    retrieve=extend_schema(summary="One weekday's business hours (staff); 0 is Monday"),
    partial_update=extend_schema(
        summary="Set a weekday's opening and closing times, or close it with both null (staff)",
        request=s.BusinessHoursUpdateSerializer,
        responses={200: s.BusinessHoursSerializer},
    ),
)
class BusinessHoursViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = s.BusinessHoursSerializer
    pagination_class = Pagination
    lookup_field = "weekday"
    lookup_url_kwarg = "id"
    lookup_value_regex = "[^/]+"
    filter_backends = []
    http_method_names = ["get", "patch", "head", "options"]

    def initial(self, request, *args, **kwargs) -> None:  # noqa: ANN001
        super().initial(request, *args, **kwargs)
        require(request.user.is_msp_staff, "The MSP's calendar is a staff setting.")

    def get_queryset(self):  # noqa: ANN201
        return BusinessHours.objects.order_by("weekday")

    def get_object(self):  # noqa: ANN201
        value = str(self.kwargs["id"])
        if not (value.isascii() and value.isdigit() and len(value) == 1):
            raise exceptions.NotFound()
        row = self.get_queryset().filter(weekday=int(value)).first()
        if row is None:
            raise exceptions.NotFound()
        return row

    def partial_update(self, request, *args, **kwargs) -> Response:  # noqa: ANN001
        row = self.get_object()
        data = _valid(s.BusinessHoursUpdateSerializer, self)
        row = calendar_services.business_hours_set(
            weekday=row.weekday, opens=data["opens"], closes=data["closes"], actor=request.user
        )
        return _out(s.BusinessHoursSerializer, row, self)


@extend_schema_view(
    list=extend_schema(summary="Holidays: days the MSP is closed (staff)"),
    retrieve=extend_schema(summary="A holiday (staff)"),
    create=extend_schema(
        summary="Add a holiday (staff)", request=s.HolidayCreateSerializer, responses={201: s.HolidaySerializer}
    ),
    destroy=extend_schema(summary="Remove a holiday (staff)"),
)
class HolidayViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    serializer_class = s.HolidaySerializer
    filter_backends = []

    def initial(self, request, *args, **kwargs) -> None:  # noqa: ANN001
        super().initial(request, *args, **kwargs)
        require(request.user.is_msp_staff, "The MSP's calendar is a staff setting.")

    def get_queryset(self):  # noqa: ANN201
        return Holiday.objects.order_by("date")

    def create(self, request, *args, **kwargs) -> Response:  # noqa: ANN001
        data = _valid(s.HolidayCreateSerializer, self)
        holiday = calendar_services.holiday_add(date=data["date"], name=data["name"], actor=request.user)
        return _out(s.HolidaySerializer, holiday, self, status.HTTP_201_CREATED)

    def destroy(self, request, *args, **kwargs) -> Response:  # noqa: ANN001
        calendar_services.holiday_remove(holiday=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------------------
# Invoices and payments


class _JsonForErrors(DefaultContentNegotiation):
    """The PDF endpoint answers a raw PDF; its errors are always JSON, whatever Accept says."""

    def select_renderer(self, request, renderers, format_suffix=None):  # noqa: ANN001, ANN201
        renderer = JSONRenderer()
        return renderer, renderer.media_type


@extend_schema_view(
    list=extend_schema(summary="Invoices (staff; client contacts see their issued invoices)"),
    retrieve=extend_schema(summary="An invoice"),
)
class InvoiceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    serializer_class = s.InvoiceSerializer
    filterset_class = InvoiceFilter
    ordering_fields = ["created_at", "issued_on", "due_on", "total", "number"]
    ordering = ["-created_at", "-id"]

    def initial(self, request, *args, **kwargs) -> None:  # noqa: ANN001
        super().initial(request, *args, **kwargs)
        require(not request.user.is_technician, "Invoices are billing data; technicians do not see them.")

    def get_content_negotiator(self):  # noqa: ANN201
        if getattr(self, "action", None) == "pdf":
            return _JsonForErrors()
        return super().get_content_negotiator()

    def get_queryset(self):  # noqa: ANN201
        return _invoices_with_amount_paid(self.request.user)

    @extend_schema(
        summary="The invoice as a PDF",
        responses={(200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="The PDF.")},
        filters=False,
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def pdf(self, request, id=None) -> HttpResponse:  # noqa: A002, ANN001
        invoice = self.get_object()
        # As billing.views.invoice_pdf: drafts rendered on the fly (staff only
        # see drafts), issued invoices from storage, re-rendered when stale.
        if invoice.status == InvoiceStatus.DRAFT:
            response = HttpResponse(
                billing_services.invoice_preview_pdf(invoice=invoice), content_type="application/pdf"
            )
            response["Content-Disposition"] = 'inline; filename="invoice-draft.pdf"'
        else:
            if not billing_services.invoice_pdf_is_current(invoice):
                invoice.pdf.name = billing_services.invoice_render_pdf(invoice=invoice)
            response = FileResponse(
                invoice.pdf.storage.open(invoice.pdf.name, "rb"),
                content_type="application/pdf",
                filename=f"invoice-{invoice.number}.pdf",
            )
        response["Cache-Control"] = "private, no-store"
        response["X-Content-Type-Options"] = "nosniff"
        return response

    @extend_schema(summary="Payments recorded on the invoice", responses=s.PaymentSerializer(many=True), filters=False)
    @action(detail=True, methods=["get"], filter_backends=[])
    def payments(self, request, id=None) -> Response:  # noqa: A002, ANN001
        invoice = self.get_object()
        payments = Payment.objects.filter(invoice=invoice).select_related("invoice", "recorded_by")
        return self.page(payments.order_by("paid_on", "created_at", "id"), s.PaymentSerializer)

    @extend_schema(
        summary="Record a payment (staff); the payment completing the total marks the invoice paid and credits its hours",
        request=s.PaymentCreateSerializer,
        responses={201: s.PaymentSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    @payments.mapping.post
    def record_payment(self, request, id=None) -> Response:  # noqa: A002, ANN001
        invoice = self.get_object()
        require(request.user.is_msp_staff, "Only MSP staff can record payments.")
        require_recent_login(request)

        def perform() -> Response:
            data = _valid(s.PaymentCreateSerializer, self)
            payment = billing_services.payment_record(invoice=invoice, actor=request.user, **data)
            return _out(s.PaymentSerializer, payment, self, status.HTTP_201_CREATED)

        return run_idempotent(request, perform)

    # --- reload drafts (the draft top-up mode): staff change the block, issue or discard

    def _reload_draft_result(self, invoice) -> Response:  # noqa: ANN001
        return _out(s.InvoiceSerializer, _invoices_with_amount_paid(self.request.user).get(pk=invoice.pk), self)

    @extend_schema(
        summary="Change the block of a drafted reload invoice (staff): a tier, or custom whole hours",
        request=s.PurchaseSerializer,
        responses={200: s.InvoiceSerializer},
        filters=False,
    )
    @action(detail=True, methods=["post"], url_path="reload-block", filter_backends=[])
    def reload_block(self, request, id=None) -> Response:  # noqa: A002, ANN001
        invoice = self.get_object()
        require(request.user.is_msp_staff, "Only MSP staff review drafted reloads.")
        data = _valid(s.PurchaseSerializer, self)
        invoice = notification_services.reload_draft_change_block(
            invoice=invoice, actor=request.user, tier=data.get("tier"), hours=data.get("hours")
        )
        return self._reload_draft_result(invoice)

    @extend_schema(
        summary="Issue a drafted reload invoice (staff): numbered, and emailed with its PDF to the client",
        request=None,
        responses={200: s.InvoiceSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
        filters=False,
    )
    @action(detail=True, methods=["post"], url_path="reload-issue", filter_backends=[])
    def reload_issue(self, request, id=None) -> Response:  # noqa: A002, ANN001
        invoice = self.get_object()
        require(request.user.is_msp_staff, "Only MSP staff review drafted reloads.")
        require_recent_login(request)

        def perform() -> Response:
            issued = notification_services.reload_draft_issue(invoice=invoice, actor=request.user, send=queue_sending)
            return self._reload_draft_result(issued)

        return run_idempotent(request, perform)

    @extend_schema(
        summary="Discard a drafted reload invoice (staff): voided unnumbered, its block cancelled, nothing sent",
        description="No new reload is drafted for the agreement until its balance has recovered and fallen again.",
        request=s.ReloadDiscardSerializer,
        responses={200: s.InvoiceSerializer},
        filters=False,
    )
    @action(detail=True, methods=["post"], url_path="reload-discard", filter_backends=[])
    def reload_discard(self, request, id=None) -> Response:  # noqa: A002, ANN001
        invoice = self.get_object()
        require(request.user.is_msp_staff, "Only MSP staff review drafted reloads.")
        data = _valid(s.ReloadDiscardSerializer, self)
        invoice = notification_services.reload_draft_discard(
            invoice=invoice, actor=request.user, reason=data.get("reason", "")
        )
        return self._reload_draft_result(invoice)


@extend_schema_view(
    list=extend_schema(summary="Credit notes (staff; client contacts see their own client's)"),
    retrieve=extend_schema(summary="A credit note"),
)
class CreditNoteViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    serializer_class = s.CreditNoteSerializer
    filterset_class = CreditNoteFilter
    ordering_fields = ["created_at", "issued_on", "total", "number"]
    ordering = ["-created_at", "-id"]

    def initial(self, request, *args, **kwargs) -> None:  # noqa: ANN001
        super().initial(request, *args, **kwargs)
        require(not request.user.is_technician, "Credit notes are billing data; technicians do not see them.")

    def get_content_negotiator(self):  # noqa: ANN201
        if getattr(self, "action", None) == "pdf":
            return _JsonForErrors()
        return super().get_content_negotiator()

    def get_queryset(self):  # noqa: ANN201
        return credit_notes_for_user(self.request.user).prefetch_related("lines__invoice")

    @extend_schema(
        summary="The credit note as a PDF",
        responses={(200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="The PDF.")},
        filters=False,
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def pdf(self, request, id=None) -> HttpResponse:  # noqa: A002, ANN001
        credit_note = self.get_object()
        name = credit_note_pdf_name(credit_note)
        response = FileResponse(
            credit_note.pdf.storage.open(name, "rb"),
            content_type="application/pdf",
            filename=f"credit-note-{credit_note.number}.pdf",
        )
        response["Cache-Control"] = "private, no-store"
        response["X-Content-Type-Options"] = "nosniff"
        return response


# ---------------------------------------------------------------------------
# Tokens (staff)


@extend_schema_view(
    list=extend_schema(summary="API tokens (staff)"),
    retrieve=extend_schema(summary="An API token (staff); the key itself is never shown again"),
    create=extend_schema(
        summary="Create a token for a user (staff); the key is in this response only",
        request=s.ApiTokenCreateSerializer,
        responses={201: s.ApiTokenCreatedSerializer},
    ),
)
class ApiTokenViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    serializer_class = s.ApiTokenSerializer
    filter_backends = [StrictFilterBackend]
    filterset_fields = ["user__username"]

    def initial(self, request, *args, **kwargs) -> None:  # noqa: ANN001
        super().initial(request, *args, **kwargs)
        require(request.user.is_msp_staff, "Only MSP staff manage API tokens.")

    def get_queryset(self):  # noqa: ANN201
        return ApiToken.objects.select_related("user", "created_by").order_by("-created_at", "-id")

    def create(self, request, *args, **kwargs) -> Response:  # noqa: ANN001
        require_recent_login(request)
        data = _valid(s.ApiTokenCreateSerializer, self)
        new = token_create(user=data["user"], name=data["name"], actor=request.user)
        new.token.key = new.key
        return _out(s.ApiTokenCreatedSerializer, new.token, self, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Revoke a token (staff): it stops working at once", request=None, responses=s.ApiTokenSerializer
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def revoke(self, request, id=None) -> Response:  # noqa: A002, ANN001
        token = token_revoke(token=self.get_object(), actor=request.user)
        return _out(s.ApiTokenSerializer, token, self)
