"""The Blocks table explains the part of the balance that no block holds:
minutes credited outside blocks, or overage charged beyond them."""

import re
from http import HTTPStatus

import pytest
from django.urls import reverse
from django.utils import timezone

from agreements import services
from agreements.models import Agreement, Block, OveragePolicy
from agreements.tests.factories import AgreementFactory, TicketFactory, tier, work_type

pytestmark = pytest.mark.django_db


def outside_line(response) -> str | None:
    """The text of the line under the Blocks table, or None when there is none."""
    found = re.search(r'data-testid="outside-blocks">(.*?)</div>', response.content.decode(), re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split()) if found else None


def page(client, agreement):
    response = client.get(reverse("portal:agreement", args=[agreement.public_id]))
    assert response.status_code == HTTPStatus.OK
    return response


def test_it_shows_no_line_when_the_blocks_hold_the_whole_balance(client, alice, entry):
    client.force_login(alice)
    response = page(client, entry.agreement)
    assert outside_line(response) is None
    split = response.context["split"]
    assert (split.balance, split.in_blocks, split.outside) == (510, 510, 0)


def test_it_explains_minutes_credited_outside_blocks(client, alice, staff, entry):
    services.ledger_adjust(agreement=entry.agreement, minutes=30, reason="Travel between floors", author=staff)
    client.force_login(alice)
    response = page(client, entry.agreement)
    assert outside_line(response) == (
        "Credited outside blocks: 30 min · part of the balance that no block holds: charges credited back, "
        "adjustments. Balance 9 h = 8 h 30 min left in blocks + 30 min."
    )
    agreement = Agreement.objects.get(pk=entry.agreement_id)
    left = sum(Block.objects.filter(agreement=agreement).values_list("minutes_left", flat=True))
    assert response.context["split"].outside == agreement.balance_minutes - left == 30


def test_it_explains_overage_and_the_next_block_repays_it(client, alice, staff, technician):
    agreement = AgreementFactory(
        client=alice.client_contact.client, overage_policy=OveragePolicy.ALLOW_NEGATIVE, overage_limit_minutes=120
    )
    services.block_mark_paid(block=services.block_sell(agreement=agreement, tier=tier(10), actor=staff), actor=staff)
    services.time_entry_log(
        agreement=agreement,
        technician=technician,
        ticket=TicketFactory(client=agreement.client),
        work_date=timezone.localdate(),
        minutes=645,
        work_type=work_type(),
    )
    client.force_login(alice)
    assert outside_line(page(client, agreement)) == (
        "Overage: 45 min · time charged beyond the hours in blocks; the next block added repays it first. "
        "Balance −45 min = 0 min left in blocks − 45 min."
    )

    # As promised: the next block repays it, and the blocks hold the whole balance again.
    services.block_mark_paid(block=services.block_sell(agreement=agreement, tier=tier(10), actor=staff), actor=staff)
    response = page(client, agreement)
    assert outside_line(response) is None
    split = response.context["split"]
    assert (split.balance, split.in_blocks) == (555, 555)


def test_a_cancelled_block_changes_nothing_in_the_sum(client, alice, staff, entry):
    """The portal leaves cancelled blocks out of the table: they hold no minutes."""
    unpaid = services.block_sell(agreement=entry.agreement, tier=tier(10), actor=staff)
    services.block_cancel(block=unpaid, reason="Sold twice", actor=staff)
    services.ledger_adjust(agreement=entry.agreement, minutes=15, reason="Goodwill", author=staff)
    client.force_login(alice)
    response = page(client, entry.agreement)
    assert response.context["split"].outside == 15
    assert outside_line(response).startswith("Credited outside blocks: 15 min · ")


def test_it_speaks_italian_to_an_italian_contact(client, alice, staff, entry):
    alice.language = "it"
    alice.save()
    question = services.question_raise(time_entry=entry, raised_by=alice, reason="Troppo lungo")
    services.question_credit(question=question, actor=staff, minutes=30, reply="Il viaggio è gratuito.")
    client.force_login(alice)
    assert outside_line(page(client, entry.agreement)) == (
        "Accreditato fuori dai blocchi: 30 min · parte del saldo che nessun blocco contiene: addebiti "
        "riaccreditati, rettifiche. Saldo 9 h = 8 h 30 min residui nei blocchi + 30 min."
    )
