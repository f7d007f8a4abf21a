import datetime
from decimal import Decimal

import factory
from django.db.models import Max
from django.utils import timezone

from accounts.models import Role, User
from agreements.models import Agreement, Client, ClientContact, OveragePolicy, Ticket, Tier, WorkType


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("correct horse battery staple")
    role = Role.TECHNICIAN


class StaffFactory(UserFactory):
    role = Role.STAFF


class TechnicianFactory(UserFactory):
    role = Role.TECHNICIAN


class ClientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Client
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Client {n}")
    hourly_rate = Decimal("100.00")
    currency = "USD"
    billing_email = factory.LazyAttribute(lambda c: f"billing@{c.name.lower().replace(' ', '-')}.example")
    billing_address = "1 Main Street\nSpringfield"


class ClientContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ClientContact

    user = factory.SubFactory(UserFactory, role=Role.CLIENT)
    client = factory.SubFactory(ClientFactory)


class AgreementFactory(factory.django.DjangoModelFactory):
    """An open-ended agreement that started a year ago, with default settings."""

    class Meta:
        model = Agreement

    client = factory.SubFactory(ClientFactory)
    starts_on = factory.LazyFunction(lambda: timezone.localdate() - datetime.timedelta(days=365))
    # After the client's other agreements, as agreements.services.agreement_create places it.
    position = factory.LazyAttribute(
        lambda o: (Agreement.objects.filter(client=o.client).aggregate(last=Max("position"))["last"] or 0) + 1
    )


class TicketFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Ticket

    client = factory.SubFactory(ClientFactory)
    number = factory.Sequence(lambda n: f"T-{1000 + n}")
    subject = "Printer offline"


def tier(hours: int) -> Tier:
    """A default tier created by the data migration (10, 20 or 30 hours)."""
    return Tier.objects.get(hours=hours)


def work_type(name: str = "Normal") -> WorkType:
    """A default work type: Normal, After-hours, Emergency or Non-billable."""
    return WorkType.objects.get(name=name)


def bill_overage_agreement(client: Client, *, actor: User, technician: User | None = None, logged: int = 0, **fields):
    """A bill-overage agreement of `client`, now at $150/h, with a paid 10-hour
    block and `logged` minutes of normal time on it (beyond 600: overage)."""
    from agreements import services

    client.hourly_rate = Decimal("150.00")
    client.save(update_fields=["hourly_rate"])
    agreement = AgreementFactory(client=client, overage_policy=OveragePolicy.BILL_OVERAGE, **fields)
    services.block_mark_paid(block=services.block_sell(agreement=agreement, tier=tier(10), actor=actor), actor=actor)
    if logged:
        services.time_entry_log(
            agreement=agreement,
            technician=technician,
            ticket=TicketFactory(client=client),
            work_date=timezone.localdate(),
            minutes=logged,
            work_type=work_type(),
        )
    agreement.refresh_from_db()
    return agreement
