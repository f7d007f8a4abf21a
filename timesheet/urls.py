from django.urls import path

from timesheet import views

app_name = "timesheet"
urlpatterns = [
    path("", views.log, name="log"),
    path("mine/", views.mine, name="mine"),
    path("entries/<str:public_id>/void/", views.void, name="void"),
    path("entries/<str:public_id>/correct/", views.correct, name="correct"),
]
