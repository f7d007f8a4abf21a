from agreements.models import Agreement, LedgerEntry
from agreements.selectors import has_bought_hours, ledger_balance


def assert_balance_is_ledger_sum(agreement: Agreement) -> int:
    """Invariant 2: the cached balance equals the sum of the ledger, and each block's
    cached minutes left the sum of its entries. Returns the balance."""
    stored = Agreement.objects.values_list("balance_minutes", flat=True).get(pk=agreement.pk)
    total = ledger_balance(agreement)
    assert stored == total, f"cached balance {stored} != ledger sum {total}"
    assert all(
        type(m) is int for m in LedgerEntry.objects.filter(agreement=agreement).values_list("minutes", flat=True)
    )
    return total


def charged_in_window(agreement: Agreement, today) -> int:  # noqa: ANN001
    """The burn counted by hand from the entries: charged minutes of the live
    entries worked in the 56 days ending `today`."""
    import datetime

    from agreements.models import TimeEntry

    first = today - datetime.timedelta(days=55)
    return sum(
        entry.charged_minutes
        for entry in TimeEntry.objects.filter(agreement=agreement)
        if entry.voided_at is None and first <= entry.work_date <= today
    )


def assert_burn_is_entry_sum(agreement: Agreement, today) -> int:  # noqa: ANN001
    """The cached burn, counted for today by the services, equals the entries'
    sum; so does what `with_runway` reads (cache or count) for any day. Returns the burn."""
    import datetime

    from agreements.models import TimeEntry
    from agreements.runway import with_runway

    burn, counted_on = Agreement.objects.values_list("burn_minutes", "burn_computed_on").get(pk=agreement.pk)
    expected = charged_in_window(agreement, today)
    if TimeEntry.objects.filter(agreement=agreement).exists():
        assert counted_on == today, f"burn counted on {counted_on}, not today"
    if counted_on == today:
        assert burn == expected, f"cached burn {burn} != entries' sum {expected}"
    for day in (today, today + datetime.timedelta(days=30), today - datetime.timedelta(days=3)):
        read = with_runway(Agreement.objects.filter(pk=agreement.pk), today=day).get().burn_window_minutes
        assert read == charged_in_window(agreement, day), f"burn read for {day}: {read}"
    return expected


def assert_has_had_hours_is_recount(agreement: Agreement) -> bool:
    """The cached `has_had_hours` equals agreements.selectors.has_bought_hours
    run as a query (credited blocks not cancelled, positive adjustments). Returns it."""
    stored = Agreement.objects.values_list("has_had_hours", flat=True).get(pk=agreement.pk)
    recount = Agreement.objects.filter(pk=agreement.pk).filter(has_bought_hours()).exists()
    assert stored == recount, f"cached has_had_hours {stored} != recount {recount}"
    return stored
