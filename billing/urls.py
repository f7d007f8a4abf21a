from django.urls import path

from billing import views

app_name = "billing"

urlpatterns = [
    path("invoices/", views.invoice_list, name="invoices"),
    path("invoices/<str:public_id>/", views.invoice_detail, name="invoice"),
    path("invoices/<str:public_id>/payments/", views.invoice_payment, name="invoice_payment"),
    path("invoices/<str:public_id>/void/", views.invoice_void_view, name="invoice_void"),
    path("invoices/<uuid:public_id>/pdf/", views.invoice_pdf, name="invoice_pdf"),
    path("credit-notes/<uuid:public_id>/pdf/", views.credit_note_pdf, name="credit_note_pdf"),
]
