"""Seed a throw-away database for the schemathesis run and print the tokens.

    BLOCKHOURS_VAR_DIR=... python -m api.tests.live_seed   (after migrate)

Staff, a technician and a client contact (Alice at client A), with client B
beside them; an agreement with a paid block, a ticket, a time entry and an
issued invoice, so schemathesis finds real objects to read and write.
"""

import json
import os


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "blockhours.settings")
    import django

    django.setup()
    from django.utils import timezone

    from agreements import services as agreement_services
    from agreements.tests.factories import (
        AgreementFactory,
        ClientContactFactory,
        ClientFactory,
        StaffFactory,
        TechnicianFactory,
        TicketFactory,
        tier,
        work_type,
    )
    from api.services import token_create
    from billing import services as billing_services
    from billing.models import SellerProfile

    staff = StaffFactory(username="sam")
    technician = TechnicianFactory(username="tess")
    client_a, client_b = ClientFactory(name="Acme Dental"), ClientFactory(name="Birch Legal")
    alice = ClientContactFactory(client=client_a, user__username="alice").user
    SellerProfile.objects.create(name="Northwind IT Services", address="200 Harbor Way")
    for client in (client_a, client_b):
        agreement = AgreementFactory(client=client, credit_policy="immediate")
        ticket = TicketFactory(client=client)
        billing_services.invoice_sell_block(agreement=agreement, tier=tier(30), actor=staff)
        agreement_services.time_entry_log(
            agreement=agreement,
            technician=technician,
            ticket=ticket,
            work_date=timezone.localdate(),
            minutes=30,
            work_type=work_type(),
        )
    tokens = {
        user.username: token_create(user=user, name="schemathesis", actor=staff).key
        for user in (staff, technician, alice)
    }
    print(json.dumps(tokens))


if __name__ == "__main__":
    main()
