from django.urls import path

from imports import views

app_name = "imports"
urlpatterns = [
    path("", views.upload, name="upload"),
    path("template.csv", views.template, name="template"),
    path("<str:public_id>/", views.run_detail, name="run"),
    path("<str:public_id>/confirm/", views.run_confirm, name="confirm"),
    path("<str:public_id>/status/", views.run_status, name="status"),
]
