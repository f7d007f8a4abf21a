from django.urls import path

from portal import views

app_name = "portal"
urlpatterns = [
    path("", views.home, name="home"),
    path("agreements/<str:public_id>/", views.agreement_detail, name="agreement"),
    path("agreements/<str:public_id>/usage.csv", views.usage_csv, name="usage_csv"),
    path("agreements/<str:public_id>/buy/", views.buy_hours, name="buy"),
    path("entries/<str:public_id>/question/", views.question_raise, name="question"),
    path("estimates/", views.estimates, name="estimates"),
    path("estimates/<str:public_id>/approve/", views.estimate_approve, name="estimate_approve"),
    path("estimates/<str:public_id>/decline/", views.estimate_decline, name="estimate_decline"),
    # The emailed links: signed, no sign-in; GET shows the estimate, POST acts (mail scanners only GET).
    path("estimates/link/<str:token>/", views.estimate_link, name="estimate_link"),
]
