from django.urls import path

from reports import views

app_name = "reports"
urlpatterns = [
    path("", views.index, name="index"),
    path("revenue/", views.revenue, name="revenue"),
    path("usage/", views.usage, name="usage"),
    path("runway/", views.runway, name="runway"),
    path("cash/", views.cash, name="cash"),
    path("msa/", views.msa, name="msa"),
    path("accounting/", views.accounting_export, name="accounting"),
    path("questions/", views.questions, name="questions"),
    path("statements/<str:public_id>/", views.statement_download, name="statement"),
]
