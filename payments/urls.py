from django.urls import path

from payments import views

app_name = "payments"
urlpatterns = [
    path("pay/<str:token>/", views.pay, name="pay"),
    path("portal/invoices/<str:public_id>/pay/", views.portal_pay, name="portal_pay"),
    path("portal/payment-method/", views.payment_method, name="payment_method"),
    path("payments/stripe/webhook/", views.webhook, name="webhook"),
    path("payments/credit-notes/<uuid:public_id>/refund/retry/", views.refund_retry, name="refund_retry"),
]
