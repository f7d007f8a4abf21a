from django.urls import path

from timesheet import views

app_name = "timesheet"
urlpatterns = [
    path("", views.log, name="log"),
    path("mine/", views.mine, name="mine"),
    path("timer/start/", views.timer_start, name="timer_start"),
    path("timer/discard/", views.timer_discard, name="timer_discard"),
    path("entries/<str:public_id>/void/", views.void, name="void"),
    path("entries/<str:public_id>/correct/", views.correct, name="correct"),
    path("estimates/new/", views.estimate_new, name="estimate_new"),
    path("estimates/<str:public_id>/cancel/", views.estimate_cancel, name="estimate_cancel"),
]
