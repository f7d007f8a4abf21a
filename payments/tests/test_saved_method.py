"""A card on file for automatic reloads: saved through a SetupIntent by a
billing contact, shown, replaced and removed; another client sees nothing."""

from http import HTTPStatus

import pytest
from django.test import Client as HttpClient

from agreements.tests.factories import ClientContactFactory
from payments import provider, services
from payments.models import SavedPaymentMethod

pytestmark = pytest.mark.django_db

PAGE = "/portal/payment-method/"


def confirmed_setup(client, number: str = "4242424242424242") -> str:
    """What Stripe.js does in the browser: confirm the SetupIntent with the card."""
    secret = services.setup_start(client=client)
    setup_id = secret.split("_secret_")[0]
    setup = provider.client().v1.setup_intents.confirm(
        setup_id,
        params={
            "payment_method_data": {
                "type": "card",
                "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"},
            }
        },
    )
    if setup.status == "requires_action":  # the card holder completes 3D Secure in Stripe.js's dialog
        provider.client().v1.setup_intents.confirm(setup_id)
    return setup_id


@pytest.fixture
def billing_alice(alice):
    alice.client_contact.receives_invoices = True
    alice.client_contact.save()
    return alice


def test_a_billing_contact_saves_sees_replaces_and_removes_a_card(billing_alice, client_a, stripe_on):
    http = HttpClient()
    http.force_login(billing_alice)
    page = http.get(PAGE)
    assert page.status_code == HTTPStatus.OK
    assert "No payment method is on file" in page.content.decode()
    assert stripe_on in page.headers["Content-Security-Policy"]
    assert http.post(PAGE, {"action": "start"}).json()["client_secret"].startswith("seti_")

    response = http.post(PAGE, {"action": "save", "setup_intent": confirmed_setup(client_a)})
    assert response.json() == {"saved": True}
    saved = SavedPaymentMethod.objects.get(client=client_a)
    assert (saved.brand, saved.last4, saved.exp_month, saved.exp_year, saved.saved_by) == (
        "visa",
        "4242",
        12,
        2034,
        billing_alice,
    )
    assert "Visa •••• 4242" in http.get(PAGE).content.decode()
    assert "expires 12/2034" in http.get(PAGE).content.decode()

    first_method = saved.payment_method_id
    http.post(PAGE, {"action": "save", "setup_intent": confirmed_setup(client_a, "5555555555554444")})
    saved.refresh_from_db()
    assert saved.last4 == "4444" and saved.payment_method_id != first_method
    assert SavedPaymentMethod.objects.count() == 1

    assert http.post(PAGE, {"action": "remove"}).status_code == HTTPStatus.FOUND
    assert SavedPaymentMethod.objects.count() == 0


def test_a_card_declined_at_setup_is_not_saved(client_a, stripe_on):
    with pytest.raises(provider.CardError):
        confirmed_setup(client_a, "4000000000000002")
    assert SavedPaymentMethod.objects.count() == 0


def test_another_clients_setup_intent_is_refused(billing_alice, client_b, charlie, stripe_on):
    charlie.client_contact.receives_invoices = True
    charlie.client_contact.save()
    setup_of_b = confirmed_setup(client_b)
    http = HttpClient()
    http.force_login(billing_alice)
    response = http.post(PAGE, {"action": "save", "setup_intent": setup_of_b})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == {"message": "The card details did not reach us. Please try again."}
    assert SavedPaymentMethod.objects.count() == 0


@pytest.mark.parametrize("value", ["", "seti_", "x" * 3000, "seti_abc\x00", "<script>", "seti_‮x"])
def test_hostile_setup_intent_ids_are_refused(billing_alice, stripe_on, value):
    http = HttpClient()
    http.force_login(billing_alice)
    response = http.post(PAGE, {"action": "save", "setup_intent": value})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert SavedPaymentMethod.objects.count() == 0


def test_charlie_sees_only_his_own_clients_card(billing_alice, client_a, charlie, stripe_on):
    services.payment_method_save(client=client_a, setup_intent_id=confirmed_setup(client_a), actor=billing_alice)
    charlie.client_contact.receives_invoices = True
    charlie.client_contact.save()
    http = HttpClient()
    http.force_login(charlie)
    page = http.get(PAGE).content.decode()
    assert "4242" not in page and "Acme Dental" not in page
    http.post(PAGE, {"action": "remove"})
    assert SavedPaymentMethod.objects.filter(client=client_a).count() == 1


def test_only_billing_contacts_technicians_and_anonymous_visitors_are_kept_out(alice, client_a, technician, stripe_on):
    bob = ClientContactFactory(client=client_a, user__username="bobby", receives_invoices=False).user
    for user in (bob, technician):
        http = HttpClient()
        http.force_login(user)
        assert http.get(PAGE).status_code == HTTPStatus.NOT_FOUND
        assert http.post(PAGE, {"action": "start"}).status_code == HTTPStatus.NOT_FOUND
    assert HttpClient().get(PAGE).status_code == HTTPStatus.FOUND  # to sign in


def test_without_keys_there_is_no_such_page(billing_alice, settings):
    settings.STRIPE_SECRET_KEY = settings.STRIPE_PUBLISHABLE_KEY = ""
    http = HttpClient()
    http.force_login(billing_alice)
    assert http.get(PAGE).status_code == HTTPStatus.NOT_FOUND
    assert "payment-method" not in http.get("/portal/").content.decode()


def test_staff_see_which_clients_have_a_card_on_file(billing_alice, client_a, staff, stripe_on):
    http = HttpClient()
    http.force_login(staff)
    page = f"/dashboard/clients/{client_a.public_id}/"
    assert "no payment method on file" in http.get(page).content.decode()
    services.payment_method_save(client=client_a, setup_intent_id=confirmed_setup(client_a), actor=billing_alice)
    assert "Visa •••• 4242 on file for reloads" in http.get(page).content.decode()
