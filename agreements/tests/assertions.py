from agreements.models import Agreement, LedgerEntry
from agreements.selectors import ledger_balance


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
