"""A Paginator told its total instead of counting every row for it."""

from django.core.paginator import EmptyPage, Page, PageNotAnInteger, Paginator


class KnownCountPaginator(Paginator):
    """Paginator whose `count` is given (e.g. the dashboard's headline figures,
    recounted once a minute) instead of a `COUNT(*)` over every row on each view.

    The given count may be as old as those figures, so a page never trusts it
    for what it shows: it reads one row more than it shows, so "next" is
    right whatever the count says, and a page that comes back short is the
    end, which sets the count to what it saw. A page number beyond the real
    end the count gives, or found empty (rows gone since the count), counts
    the rows for real, as Paginator does: `get_page` then answers that page,
    or the last one.
    With `count=None` it is a plain Paginator.
    """

    def __init__(self, object_list, per_page: int, *, count: int | None) -> None:  # noqa: ANN001
        super().__init__(object_list, per_page)
        self._given = count is not None
        if count is not None:
            self._set_count(count)

    def _set_count(self, count: int) -> None:
        self.count = count  # in place of the cached property (no query)
        self.__dict__.pop("num_pages", None)

    def get_page(self, number) -> Page:  # noqa: ANN001
        # Paginator.get_page checks the number against num_pages first, which
        # here is only an estimate: let the rows say where the end is.
        if not self._given:
            return super().get_page(number)
        try:
            return self.page(number)
        except PageNotAnInteger:
            return self.page(1)
        except EmptyPage:  # below 1, or beyond the end (now counted)
            return super().get_page(number)

    def page(self, number) -> Page:  # noqa: ANN001
        if not self._given:
            return super().page(number)
        try:
            number = int(number)
        except (TypeError, ValueError):
            raise PageNotAnInteger(self.error_messages["invalid_page"]) from None
        if number < 1:
            raise EmptyPage(self.error_messages["min_page"])
        if number > 1 and number > self.num_pages:
            # Past the end the count gives (a link from a page that saw more
            # rows, or a typed number): count for real, as Paginator would.
            return self._counted_page(number)
        bottom = (number - 1) * self.per_page
        rows = list(self.object_list[bottom : bottom + self.per_page + 1])
        if len(rows) > self.per_page:  # at least one row on a later page
            rows = rows[: self.per_page]
            self._set_count(max(self.count, bottom + self.per_page + 1))
        elif rows or number == 1:  # the last page: now the count is known
            self._set_count(bottom + len(rows))
        else:  # beyond the end (rows gone since the count): count for real
            return self._counted_page(number)
        return self._get_page(rows, number, self)

    def _counted_page(self, number: int) -> Page:
        """The page by a real count; EmptyPage beyond the end, so get_page answers the last page."""
        self._given = False
        self._set_count(Paginator.count.func(self))
        return super().page(number)
