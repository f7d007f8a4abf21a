"""The seller's logo, printed on every invoice PDF, is checked by its content:
really PNG or JPEG, at most 2 MB and 4000 × 4000 pixels, nothing hidden in it."""

import io
import os
from http import HTTPStatus

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.forms import modelform_factory
from django.urls import reverse
from PIL import Image

from billing.models import SellerProfile
from billing.validators import LOGO_MAX_BYTES, LOGO_MAX_SIDE, validate_logo

pytestmark = pytest.mark.django_db

NOT_AN_IMAGE = "The logo must be a PNG or JPEG image; this file is not an image, or it is damaged."
HIDDEN_DATA = (
    "The logo holds more than an image (markup or data after its end); export it again as a plain PNG or JPEG."
)


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (120, 40), *, noise: bool = False) -> bytes:
    if noise:  # random pixels do not compress: a big file from a modest image
        image = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    else:
        image = Image.new("RGB", size, (20, 90, 160))
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


def upload(data: bytes, name: str = "logo.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="image/png")  # the browser's claim: never trusted


SVG = b"""<?xml version="1.0"?>
<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(document.cookie)</script></svg>"""
HTML = b"<!doctype html><html><body><script>fetch('/api/v1/tokens/')</script></body></html>"
PNG = image_bytes("PNG")


def zip_bytes() -> bytes:
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("Payload.class", b"\xca\xfe\xba\xbe not really")
    return out.getvalue()


HOSTILE = [
    pytest.param(b"just some text, not a picture\n", "logo.png", NOT_AN_IMAGE, id="text-named-png"),
    pytest.param(SVG, "logo.png", NOT_AN_IMAGE, id="svg-with-script-named-png"),
    pytest.param(HTML, "logo.png", NOT_AN_IMAGE, id="html-named-png"),
    pytest.param(b"\x89PNG\r\n\x1a\n" + HTML, "logo.png", NOT_AN_IMAGE, id="html-behind-png-signature"),
    pytest.param(PNG[: len(PNG) // 2], "logo.png", NOT_AN_IMAGE, id="truncated-png"),
    pytest.param(image_bytes("JPEG")[:-200], "logo.jpg", NOT_AN_IMAGE, id="truncated-jpeg"),
    pytest.param(
        image_bytes("GIF"), "logo.png", "The logo must be a PNG or JPEG image; this file is a GIF image.", id="gif"
    ),
    pytest.param(PNG + HTML, "logo.png", HIDDEN_DATA, id="png-html-polyglot"),
    pytest.param(image_bytes("JPEG") + HTML, "logo.jpg", HIDDEN_DATA, id="jpeg-html-polyglot"),
    pytest.param(PNG + zip_bytes(), "logo.png", HIDDEN_DATA, id="png-zip-polyglot"),
    pytest.param(image_bytes("JPEG") + zip_bytes(), "logo.jpg", HIDDEN_DATA, id="jpeg-zip-polyglot"),
    pytest.param(
        image_bytes("PNG", (1066, 1000), noise=True),
        "logo.png",
        "The logo must be at most 2 MB; this file is 3.1 MB.",
        id="3mb-png",
    ),
    pytest.param(
        image_bytes("PNG", (5000, 5000)),
        "logo.png",
        "The logo must be at most 4000 × 4000 pixels; this image is 5000 × 5000.",
        id="5000x5000-png",
    ),
    pytest.param(
        PNG, "logo.svg", "File extension “svg” is not allowed. Allowed extensions are: png, jpg, jpeg.", id="svg-name"
    ),
]


def png_with_text_chunk(text: bytes) -> bytes:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", text)
    out = io.BytesIO()
    Image.new("RGB", (20, 20)).save(out, "PNG", pnginfo=info)
    return out.getvalue()


def test_the_limits_are_2_mb_and_4000_pixels():
    assert LOGO_MAX_BYTES == 2 * 1024 * 1024
    assert LOGO_MAX_SIDE == 4000


# --- the validator on its own ---------------------------------------------------


@pytest.mark.parametrize(("data", "name"), [(PNG, "logo.png"), (image_bytes("JPEG"), "logo.jpg")])
def test_it_accepts_a_real_png_and_jpeg(data, name):
    file = upload(data, name)
    validate_logo(file)
    assert file.tell() == 0  # left ready to be stored whole


def test_it_accepts_the_largest_allowed_image():
    validate_logo(upload(image_bytes("PNG", (4000, 4000))))


@pytest.mark.parametrize(("data", "name", "message"), [p for p in HOSTILE if p.id != "svg-name"])
def test_it_refuses_hostile_files(data, name, message):
    with pytest.raises(ValidationError) as refused:
        validate_logo(upload(data, name))
    assert refused.value.messages == [message]


def test_it_refuses_script_hidden_in_a_png_text_chunk():
    with pytest.raises(ValidationError) as refused:
        validate_logo(upload(png_with_text_chunk(b"<script>alert(1)</script>")))
    assert refused.value.messages == [HIDDEN_DATA]


def test_it_accepts_harmless_png_text():
    validate_logo(upload(png_with_text_chunk(b"Made with care by Northwind")))


# --- through a form and the admin: nothing is stored ------------------------------


def profile_form(data_file):
    Form = modelform_factory(SellerProfile, fields=["name", "logo", "payment_terms_days"])
    return Form(
        {"name": "Northwind IT Services", "payment_terms_days": "15"},
        {"logo": data_file},
        instance=SellerProfile.objects.get(),
    )


@pytest.mark.parametrize(("data", "name", "message"), HOSTILE)
def test_a_form_refuses_hostile_logos_and_keeps_the_profile(seller, data, name, message, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    form = profile_form(upload(data, name))
    assert not form.is_valid()
    assert form.errors == {"logo": [message]}
    seller.refresh_from_db()
    assert not seller.logo
    assert not (tmp_path / "seller").exists()


@pytest.mark.parametrize(("data", "name"), [(PNG, "logo.png"), (image_bytes("JPEG"), "logo.jpg")])
def test_a_form_stores_a_good_logo_whole(seller, data, name, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    form = profile_form(upload(data, name))
    assert form.is_valid(), form.errors
    form.save()
    seller.refresh_from_db()
    assert seller.logo.name == f"seller/{name}"
    assert (tmp_path / seller.logo.name).read_bytes() == data


def admin_post(client, logo: SimpleUploadedFile):
    return client.post(
        reverse("admin:billing_sellerprofile_change", args=[1]),
        {
            "name": "Northwind IT Services",
            "address": "200 Harbor Way",
            "email": "billing@northwind.example",
            "payment_terms_days": "15",
            "logo": logo,
        },
    )


def test_the_admin_refuses_a_script_svg_renamed_png(client, superuser, seller, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    client.force_login(superuser)
    response = admin_post(client, upload(SVG, "logo.png"))
    assert response.status_code == HTTPStatus.OK  # the form again, with the error
    assert NOT_AN_IMAGE in response.content.decode()
    seller.refresh_from_db()
    assert not seller.logo and seller.address.startswith("200 Harbor Way, Suite 4")  # nothing saved
    assert not (tmp_path / "seller").exists()


def test_the_admin_refuses_a_huge_png(client, superuser, seller, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    client.force_login(superuser)
    response = admin_post(client, upload(image_bytes("PNG", (5000, 5000))))
    assert "at most 4000 × 4000 pixels; this image is 5000 × 5000." in response.content.decode()
    seller.refresh_from_db()
    assert not seller.logo


def test_the_admin_stores_a_good_png(client, superuser, seller, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    client.force_login(superuser)
    response = admin_post(client, upload(PNG))
    assert response.status_code == HTTPStatus.FOUND
    seller.refresh_from_db()
    assert seller.logo.name == "seller/logo.png"
    assert seller.logo.read() == PNG


def test_saving_other_fields_does_not_recheck_a_stored_logo(seller, settings, tmp_path):
    """A stored logo was checked when uploaded; editing the address must not need to reopen it."""
    settings.MEDIA_ROOT = tmp_path
    seller.logo.name = "seller/gone.png"  # e.g. media not copied to a new server
    seller.save()
    form = modelform_factory(SellerProfile, fields=["name", "logo", "payment_terms_days"])(
        {"name": "Renamed", "payment_terms_days": "15"}, instance=seller
    )
    assert form.is_valid(), form.errors
    form.save()
    assert SellerProfile.objects.get().name == "Renamed"
