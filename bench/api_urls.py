"""The project's URLs plus `/bench/bare-agreements/<uuid>/`: a plain DRF
RetrieveAPIView over the same table with the same token authentication, no
scoping, runway, throttling or custom serializer fields — the baseline the
real detail view is measured against."""

from django.urls import include, path
from rest_framework import generics, permissions, serializers

from agreements.models import Agreement
from api.authentication import ApiTokenAuthentication


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


urlpatterns = [
    path("bench/bare-agreements/<uuid:public_id>/", BareAgreementDetail.as_view()),
    path("", include("blockhours.urls")),
]
