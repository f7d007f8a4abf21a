from django.utils.translation import gettext
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination

from api.filters import check_known_query_parameters


class Pagination(PageNumberPagination):
    """Every list is paginated: 50 a page by default, `page_size` up to 100."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 100

    def paginate_queryset(self, queryset, request, view=None):  # noqa: ANN001, ANN201
        # Every list is paginated, so every list checks its query parameters here.
        if view is not None:
            check_known_query_parameters(request, view, queryset)
        return super().paginate_queryset(queryset, request, view)

    def get_page_size(self, request) -> int:  # noqa: ANN001
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        return min(self._whole_number(self.page_size_query_param, raw), self.max_page_size)

    def get_page_number(self, request, paginator) -> int:  # noqa: ANN001
        raw = request.query_params.get(self.page_query_param)
        if raw is None:
            return 1
        return self._whole_number(self.page_query_param, raw)

    def _whole_number(self, name: str, raw: str) -> int:
        # DRF would silently fall back to the default (an empty page= is page
        # 1, a wrong page size is 50): a wrong value is the caller's mistake.
        if not raw.isdigit() or int(raw) < 1:
            message = (
                gettext("A whole number from 1 to %(max)s.") % {"max": self.max_page_size}
                if name == self.page_size_query_param
                else gettext("A whole number from 1.")
            )
            raise ValidationError({name: [message]})
        return int(raw)

    def get_schema_operation_parameters(self, view) -> list[dict]:  # noqa: ANN001
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1}
            if parameter["name"] == self.page_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1}
        return parameters
