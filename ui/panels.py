"""Agreement summaries shared by the staff pages and the portal."""

import datetime
from dataclasses import dataclass

from django.utils import timezone

from agreements.models import Agreement
from agreements.runway import Runway, daily_balances, runway_of
from agreements.services.estimates import estimates_reserved_by_agreement
from ui.charts import BurnDown, burn_down


@dataclass(frozen=True)
class AgreementCard:
    agreement: Agreement
    runway: Runway
    chart: BurnDown | None
    # What open estimates (waiting, or approved and not yet used) will take of the balance.
    reserved_minutes: int = 0

    @property
    def is_low(self) -> bool:
        a = self.agreement
        return 0 < a.balance_minutes <= a.low_balance_threshold_minutes

    @property
    def is_exhausted(self) -> bool:
        return self.agreement.balance_minutes <= 0


def agreement_cards(agreements: list[Agreement], *, today: datetime.date | None = None) -> list[AgreementCard]:
    """Runway and burn-down for agreements fetched through `with_runway`: one
    more query for all the charts together."""
    today = today or timezone.localdate()
    history = daily_balances([a.pk for a in agreements])
    reserved = estimates_reserved_by_agreement([a.pk for a in agreements])
    return [
        AgreementCard(
            agreement=a,
            runway=runway_of(a, today=today),
            chart=burn_down(history[a.pk], today=today, threshold=a.low_balance_threshold_minutes),
            reserved_minutes=reserved.get(a.pk, 0),
        )
        for a in agreements
    ]
