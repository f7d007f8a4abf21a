from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("monitoring.urls")),  # healthz, readyz, metrics
    path("api/", include("api.urls")),  # REST API v1, schema, docs
    path("dashboard/imports/", include("imports.urls")),  # client imports (staff)
    path("dashboard/", include("dashboard.urls")),
    path("time/", include("timesheet.urls")),
    path("portal/", include("portal.urls")),
    path("reports/", include("reports.urls")),  # staff reports; portal statements
    path("", include("billing.urls")),  # invoices/, invoices/<uuid>/pdf/
    path("", include("payments.urls")),  # pay/<signed link>/, the portal Pay button, the Stripe webhook
    path("notifications/", include("notifications.urls")),
    path("audit/", include("audit.urls")),  # the staff audit log
    # Sign-in, passwords, invitations, and "/" sending each role to its home page.
    path("", include("accounts.urls")),
]
