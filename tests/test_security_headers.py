"""Headers that keep a browser from running or framing what we did not write."""

import re

import pytest
from django.urls import reverse

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
