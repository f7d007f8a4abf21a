"""A superuser is MSP staff everywhere: pages, API and staff emails."""

from http import HTTPStatus

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import IntegrityError, transaction

from accounts.models import Role, User
from agreements.tests.factories import AgreementFactory, ClientFactory, tier
from api.tests.helpers import api_as
from notifications.services import staff_recipients

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a long root password for tests")
    call_command("createsuperuser", "--noinput", username="root", email="root@northwind.example", verbosity=0)
    return User.objects.get(username="root")


def test_createsuperuser_makes_msp_staff(root):
    assert (root.role, root.is_msp_staff, root.is_technician, root.is_client_contact) == (
        Role.STAFF,
        True,
        False,
        False,
    )


def test_a_superusers_api_token_sees_invoices_and_sells_blocks(root, seller):
    agreement = AgreementFactory(client=ClientFactory(name="Acme Dental"))
    api = api_as(root)

    assert api.get("/api/v1/invoices/").status_code == HTTPStatus.OK
    sale = api.post(f"/api/v1/agreements/{agreement.public_id}/purchases/", {"tier": tier(10).pk}, format="json")
    assert sale.status_code == HTTPStatus.CREATED, sale.json()


def test_a_superuser_receives_the_staff_emails(root):
    assert staff_recipients() == ["root@northwind.example"]


def test_the_database_refuses_a_superuser_with_another_role(root):
    root.role = Role.TECHNICIAN
    with pytest.raises(ValidationError, match="A superuser has the MSP staff role"):
        root.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.filter(pk=root.pk).update(role=Role.TECHNICIAN)
