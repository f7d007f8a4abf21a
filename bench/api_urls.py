"""The project's URLs plus two bare DRF baselines, with the same token
authentication and no scoping, throttling or custom serializer fields:

- `/bench/bare-agreements/<uuid>/`: a RetrieveAPIView over the agreements,
  what the real detail view is measured against;
- `/bench/bare-time-entries/`: a minimal APIView doing the hot POST's
  database work by hand — claim the Idempotency-Key row, lock the agreement
  row, insert the time entry and its ledger debit, move the balance and the
  block's minutes left, store the response on the key — what the real
  time-entry POST is measured against. It checks nothing a real POST checks
  (term, coverage, overage, rounding, burn order beyond "oldest block with
  minutes left"), so it is a floor on what DRF plus the ORM cost, not a
  second implementation.
"""

from django.db import transaction
from django.db.models import F
from django.urls import include, path
from django.utils import timezone
from rest_framework import generics, permissions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from agreements.models import Agreement, Block, LedgerEntry, LedgerKind, Ticket, TimeEntry
from api.authentication import ApiTokenAuthentication
from api.models import IdempotencyKey


class BareAgreementSerializer(serializers.ModelSerializer):
    class Meta:
        model = Agreement
        exclude = ["work_types"]


class BareAgreementDetail(generics.RetrieveAPIView):
    queryset = Agreement.objects.all()
    serializer_class = BareAgreementSerializer
    lookup_field = "public_id"
    authentication_classes = [ApiTokenAuthentication]
    permission_classes = [permissions.IsAuthenticated]
    throttle_classes = []


class BareTimeEntryCreate(APIView):
    authentication_classes = [ApiTokenAuthentication]
    permission_classes = [permissions.IsAuthenticated]
    throttle_classes = []

    def post(self, request):  # noqa: ANN001, ANN201
        data = request.data
        now = timezone.now()
        with transaction.atomic():
            key = IdempotencyKey.objects.create(
                user=request.user,
                key=request.headers["Idempotency-Key"],
                method="POST",
                path=request.path,
                fingerprint="",
                created_at=now,
                expires_at=now,
            )
            ticket = Ticket.objects.get(public_id=data["ticket"])
            agreement = Agreement.objects.select_for_update(no_key=True).get(public_id=data["agreement"])
            block = Block.objects.filter(agreement=agreement, minutes_left__gt=0).first()
            minutes = int(data["minutes"])
            entry = TimeEntry.objects.create(
                agreement=agreement,
                ticket=ticket,
                technician=request.user,
                work_date=data["work_date"],
                minutes=minutes,
                work_type_id=data["work_type"],
                charged_minutes=minutes,
                idempotency_key=key.key,
            )
            LedgerEntry.objects.create(
                agreement=agreement,
                block=block,
                kind=LedgerKind.DEBIT,
                minutes=-minutes,
                time_entry=entry,
                author=request.user,
            )
            Agreement.objects.filter(pk=agreement.pk).update(balance_minutes=F("balance_minutes") - minutes)
            Block.objects.filter(pk=block.pk).update(minutes_left=F("minutes_left") - minutes)
            body = {"id": str(entry.public_id), "charged_minutes": minutes}
            IdempotencyKey.objects.filter(pk=key.pk).update(response_status=201, response_body=body)
        return Response(body, status=status.HTTP_201_CREATED)


urlpatterns = [
    path("bench/bare-agreements/<uuid:public_id>/", BareAgreementDetail.as_view()),
    path("bench/bare-time-entries/", BareTimeEntryCreate.as_view()),
    path("", include("blockhours.urls")),
]
