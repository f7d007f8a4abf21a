from django.urls import path

from notifications import views

app_name = "notifications"
urlpatterns = [
    path("invoices/<str:public_id>/send/", views.invoice_send, name="invoice_send"),
]
