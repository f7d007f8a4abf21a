from agreements import services
from agreements.tests.factories import tier, work_type


def test_it_logs_time_against_a_block(agreement, ticket, staff, technician):
    services.block_sell(agreement=agreement, tier=tier(10), actor=staff)
    block = agreement.blocks.get()
    services.block_mark_paid(block=block)
    entry = services.time_entry_log(
        agreement=agreement,
        technician=technician,
        ticket=ticket,
        work_date=block.starts_on,
        minutes=7,
        work_type=work_type("After-hours"),
    )
    agreement.refresh_from_db()
    assert entry.charged_minutes == 23
    assert agreement.balance_minutes == 600 - 23
