from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from api import views, webhooks

# No `.json` suffix twins: the API speaks JSON only, and the detail actions
# (contacts, ledger, void...) took no `format` argument, so those URLs answered 500.
router = DefaultRouter()
router.include_format_suffixes = False
router.register("clients", views.ClientViewSet, basename="client")
router.register("tiers", views.TierViewSet, basename="tier")
router.register("work-types", views.WorkTypeViewSet, basename="work-type")
router.register("tickets", views.TicketViewSet, basename="ticket")
router.register("agreements", views.AgreementViewSet, basename="agreement")
router.register("time-entries", views.TimeEntryViewSet, basename="time-entry")
router.register("timers", views.TimerViewSet, basename="timer")
router.register("invoices", views.InvoiceViewSet, basename="invoice")
router.register("questions", views.QuestionViewSet, basename="question")
router.register("estimates", views.EstimateViewSet, basename="estimate")
router.register("credit-notes", views.CreditNoteViewSet, basename="credit-note")
router.register("tokens", views.ApiTokenViewSet, basename="token")
router.register("business-hours", views.BusinessHoursViewSet, basename="business-hours")
router.register("holidays", views.HolidayViewSet, basename="holiday")
router.register("webhook-endpoints", webhooks.WebhookEndpointViewSet, basename="webhook-endpoint")
router.register("webhook-deliveries", webhooks.WebhookDeliveryViewSet, basename="webhook-delivery")
router.register("webhook-events", webhooks.WebhookEventViewSet, basename="webhook-event")

app_name = "api"

urlpatterns = [
    path("v1/", include(router.urls)),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file: no inline
    # script, so the Content-Security-Policy needs no 'unsafe-inline'.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
]
