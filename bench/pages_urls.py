"""The project's URLs plus `/bench/trivial/`: the baseline the pages are measured against."""

from django.http import HttpRequest, HttpResponse
from django.urls import include, path


def trivial(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


urlpatterns = [
    path("bench/trivial/", trivial),
    path("", include("blockhours.urls")),
]
