"""Model fields of the billing app."""

from django import forms
from django.core.validators import FileExtensionValidator
from django.db import models


class LogoField(models.ImageField):
    """An image field whose content checks are all its validators' (billing.validators.validate_logo).

    Its form field is a plain file field: Django's image form field would open
    the file with Pillow first and answer every bad upload with its own generic
    message, hiding the logo checks' precise ones. Names must end in .png,
    .jpg or .jpeg (Django's default list allows every format Pillow knows).
    """

    default_validators = [FileExtensionValidator(["png", "jpg", "jpeg"])]

    def formfield(self, **kwargs):  # noqa: ANN003, ANN201
        return super().formfield(**{"form_class": forms.FileField, **kwargs})
