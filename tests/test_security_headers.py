"""Headers that keep a browser from running or framing what we did not write."""

import re

import pytest
from django.urls import reverse

from agreements.tests.factories import tier

PAGES = ["login", "api:docs"]


@pytest.mark.parametrize("name", PAGES)
def test_pages_carry_a_csp_without_inline_scripts(client, db, name):
    response = client.get(reverse(name))
    policy = response["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    assert directives["script-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("name", PAGES)
def test_pages_contain_no_inline_script(client, db, name):
    html = client.get(reverse(name)).content.decode()
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, flags=re.S)
    assert scripts, "expected the page to load scripts from files"
    for attributes, body in scripts:
        assert "src=" in attributes or 'type="application/json"' in attributes, f"inline script: {body[:80]!r}"


# Pages and documents that show a client's data: no shared cache may keep them,
# and the browser may not keep them on disk for the next person at the desk.
SIGNED_IN = [
    ("staff", "dashboard:home", {}),
    ("staff", "dashboard:client", {"public_id": "@client"}),
    ("staff", "billing:invoice_pdf", {"public_id": "@invoice"}),
    ("technician", "timesheet:log", {}),
    ("alice", "portal:home", {}),
    ("staff", "api:client-list", {}),
]


@pytest.fixture
def signed_in(client_a, agreement, staff, technician, alice, seller, settings, tmp_path):
    from django.test import Client

    from billing.services import invoice_sell_block

    settings.MEDIA_ROOT = tmp_path
    invoice = invoice_sell_block(agreement=agreement, actor=staff, tier=tier(10))
    browsers = {}
    for role, user in [("staff", staff), ("technician", technician), ("alice", alice)]:
        browsers[role] = Client()
        browsers[role].force_login(user)
    return browsers, {"client": client_a.public_id, "invoice": invoice.public_id}


@pytest.mark.parametrize(("role", "name", "kwargs"), SIGNED_IN, ids=[name for _, name, _ in SIGNED_IN])
def test_signed_in_pages_are_private_and_not_stored(signed_in, role, name, kwargs):
    browsers, ids = signed_in
    url = reverse(name, kwargs={key: ids[value[1:]] for key, value in kwargs.items()})
    response = browsers[role].get(url)
    assert response.status_code == 200, url
    directives = {part.strip() for part in response["Cache-Control"].split(",")}
    assert {"private", "no-store"} <= directives, response["Cache-Control"]
    assert "public" not in directives


def test_public_pages_keep_their_own_caching(client, db):
    """The sign-in page (Django marks it never-cache itself) and the public
    API schema are not signed-in pages: the rule above does not touch them."""
    assert "private" not in client.get(reverse("api:schema")).get("Cache-Control", "")
