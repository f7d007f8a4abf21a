from django.urls import path

from notifications import views

app_name = "notifications"
urlpatterns = [
    path("invoices/<str:public_id>/send/", views.invoice_send, name="invoice_send"),
    path("emails/undelivered/", views.undelivered, name="undelivered"),
    path("emails/<str:public_id>/resend/", views.email_resend, name="email_resend"),
]
