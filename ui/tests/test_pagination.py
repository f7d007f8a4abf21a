"""KnownCountPaginator: a total given instead of counted, possibly out of date."""

import pytest
from django.core.paginator import EmptyPage, PageNotAnInteger

from ui.pagination import KnownCountPaginator


class Rows(list):
    """A list that says when it is counted (a queryset's COUNT(*))."""

    counted = 0

    def count(self) -> int:
        self.counted += 1
        return len(self)


def test_it_trusts_the_given_count_without_counting():
    rows = Rows(range(120))
    page = KnownCountPaginator(rows, 50, count=120).get_page("1")
    assert list(page.object_list) == list(range(50))
    assert (page.paginator.count, page.paginator.num_pages, page.has_next()) == (120, 3, True)
    assert rows.counted == 0


def test_a_count_too_low_still_leads_to_every_row():
    rows = Rows(range(120))  # 20 rows more than the count says
    paginator = KnownCountPaginator(rows, 50, count=100)
    second = paginator.get_page("2")
    assert list(second.object_list) == list(range(50, 100))
    assert second.has_next() and paginator.num_pages == 3  # the row after the page was seen
    assert rows.counted == 0
    third = KnownCountPaginator(rows, 50, count=100).get_page("3")  # past the given end: counted
    assert list(third.object_list) == list(range(100, 120))
    assert (third.paginator.count, third.has_next(), third.end_index()) == (120, False, 120)
    assert rows.counted == 1


def test_a_count_too_high_is_corrected_on_the_last_page():
    rows = Rows(range(60))
    page = KnownCountPaginator(rows, 50, count=200).get_page("2")
    assert list(page.object_list) == list(range(50, 60))
    assert (page.paginator.count, page.paginator.num_pages, page.has_next()) == (60, 2, False)
    assert rows.counted == 0


def test_a_page_beyond_the_end_answers_the_last_page():
    rows = Rows(range(60))
    page = KnownCountPaginator(rows, 50, count=200).get_page("4")  # the count says 4 pages; there are 2
    assert page.number == 2 and list(page.object_list) == list(range(50, 60))
    assert page.paginator.count == 60 and rows.counted == 1
    assert KnownCountPaginator(rows, 50, count=60).get_page("99").number == 2


def test_no_rows_is_one_empty_page():
    page = KnownCountPaginator(Rows(), 50, count=3).get_page("1")
    assert (list(page.object_list), page.paginator.count, page.has_next()) == ([], 0, False)


def test_a_page_that_is_not_a_whole_number_is_refused_like_django():
    paginator = KnownCountPaginator(Rows(range(10)), 50, count=10)
    with pytest.raises(PageNotAnInteger):
        paginator.page("x")
    with pytest.raises(EmptyPage):
        paginator.page(0)
    assert paginator.get_page("x").number == 1


def test_without_a_count_it_is_django_s_paginator():
    rows = Rows(range(60))
    page = KnownCountPaginator(rows, 50, count=None).get_page("9")
    assert page.number == 2 and rows.counted == 1
