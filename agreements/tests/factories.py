import datetime
from decimal import Decimal

import factory
from django.utils import timezone

from accounts.models import Role, User
from agreements.models import Agreement, Client, ClientContact, Ticket, Tier, WorkType


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
