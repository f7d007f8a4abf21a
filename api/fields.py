"""Serializer fields with the API's conventions: money as decimal strings,
objects referred to by their public UUID within what the caller may see."""

import uuid

from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.relations import MANY_RELATION_KWARGS

from agreements.domain import check_ascii_number, check_plain_decimal

MONEY_PATTERN = r"^-?\d{1,10}(\.\d{1,2})?$"
AMOUNT_PATTERN = r"^\d{1,10}(\.\d{1,2})?$"


@extend_schema_field({"type": "string", "format": "decimal", "pattern": MONEY_PATTERN, "example": "1800.00"})
class MoneyField(serializers.DecimalField):
    """An amount in the currency named beside it, as a string with two decimals."""

    def __init__(self, **kwargs: object) -> None:
        kwargs.setdefault("max_digits", 12)
        kwargs.setdefault("decimal_places", 2)
        kwargs["coerce_to_string"] = True
        super().__init__(**kwargs)


@extend_schema_field({"type": "string", "format": "decimal", "pattern": AMOUNT_PATTERN, "example": "1800.00"})
class AmountInputField(MoneyField):
    """A non-negative amount as input, as a string: "1800.00" (a JSON number
    could already have lost cents on the way)."""

    default_error_messages = {"invalid": _('Enter the amount as a decimal string such as "1800.00".')}

    def to_internal_value(self, data: object):  # noqa: ANN201
        if not isinstance(data, str):
            self.fail("invalid")
        check_ascii_number(data)  # "１２" is not 12 here either
        amount = super().to_internal_value(data)
        # Nor is 1_000 or 1E+2 an amount. A minus sign is left to the service,
        # whose message says why ("more than zero").
        check_plain_decimal(data.strip().removeprefix("-"))
        return amount


@extend_schema_field({"type": "string", "format": "decimal", "pattern": r"^\d{1,2}(\.\d{1,2})?$", "example": "1.50"})
class MultiplierField(serializers.DecimalField):
    def __init__(self, **kwargs: object) -> None:
        super().__init__(max_digits=4, decimal_places=2, coerce_to_string=True, **kwargs)


class _StrictString:
    """Only a JSON string is text: 0 or true is not silently turned into "0" or "True"."""

    def to_internal_value(self, data: object):  # noqa: ANN201
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictCharField(_StrictString, serializers.CharField):
    default_error_messages = {"invalid": _("Enter text (a JSON string).")}


class StrictRegexField(_StrictString, serializers.RegexField):
    pass


class StrictEmailField(_StrictString, serializers.EmailField):
    pass


class StrictSlugRelatedField(_StrictString, serializers.SlugRelatedField):
    default_error_messages = {"invalid": _("Enter text (a JSON string).")}


class _StrictManyRelatedField(serializers.ManyRelatedField):
    def to_internal_value(self, data: object):  # noqa: ANN201
        # A JSON array only: DRF would take an object's keys for the list ({} as "none").
        if not isinstance(data, list):
            self.fail("not_a_list", input_type=type(data).__name__)
        return super().to_internal_value(data)


class StrictPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """An id as a JSON integer, not "1" or true; with many=True, a JSON array of them."""

    @classmethod
    def many_init(cls, *args: object, **kwargs: object) -> serializers.ManyRelatedField:
        list_kwargs = {"child_relation": cls(*args, **kwargs)}
        list_kwargs.update({key: value for key, value in kwargs.items() if key in MANY_RELATION_KWARGS})
        return _StrictManyRelatedField(**list_kwargs)

    def to_internal_value(self, data: object):  # noqa: ANN201
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("incorrect_type", data_type=type(data).__name__)
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """Only JSON true or false; DRF would also take 0, 1, "yes", "on"…"""

    def to_internal_value(self, data: object) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class BoundedIntegerField(serializers.IntegerField):
    """A whole number whose documented bounds are checked by the service that
    receives it, so the rule and its message live in one place."""

    def __init__(self, *, minimum: int, maximum: int | None, **kwargs: object) -> None:
        self.minimum, self.maximum = minimum, maximum
        super().__init__(**kwargs)

    def to_internal_value(self, data: object) -> int:
        # A JSON integer only: not true, "30", 30.5 or "1.5h".
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return data


@extend_schema_field(OpenApiTypes.UUID)
class PublicIdRelatedField(serializers.RelatedField):
    """An object by its public UUID, looked up in a queryset scoped to the caller.

    Unknown and not-yours read the same: "no such <thing>". `unknown` is that
    whole sentence with an `%(id)s` placeholder, e.g. _("No client with id “%(id)s”."),
    so each one is translated as a sentence.
    """

    def __init__(self, *, scope, unknown: str, **kwargs: object) -> None:  # noqa: ANN001
        self.scope = scope  # callable(user) -> QuerySet
        self.unknown = unknown
        kwargs.setdefault("queryset", None)
        super().__init__(**kwargs)
        self.queryset = None

    def get_queryset(self):  # noqa: ANN201
        return self.scope(self.context["request"].user)

    def to_internal_value(self, data: object):  # noqa: ANN201
        try:
            key = uuid.UUID(str(data))
        except (TypeError, ValueError, AttributeError):
            self.fail_unknown(data)
        queryset = self.get_queryset()
        try:  # public_id is unique: get(), not first(), which would add an ORDER BY
            return queryset.get(public_id=key)
        except queryset.model.DoesNotExist:
            self.fail_unknown(data)

    def fail_unknown(self, data: object) -> None:
        raise serializers.ValidationError(str(self.unknown) % {"id": str(data)[:64]})

    def to_representation(self, value) -> str:  # noqa: ANN001
        return str(value.public_id)


@extend_schema_field({"type": "string", "pattern": r"^([01]\d|2[0-3]):[0-5]\d$", "example": "16:30"})
class LocalTimeField(serializers.TimeField):
    """A wall-clock time in the MSP's time zone as "HH:MM" (a JSON string)."""

    default_error_messages = {"invalid": _('Enter the time as "HH:MM", e.g. "16:30".')}

    def __init__(self, **kwargs: object) -> None:
        super().__init__(format="%H:%M", input_formats=["%H:%M"], **kwargs)

    def to_internal_value(self, data: object):  # noqa: ANN201
        if not isinstance(data, str) or not data.isascii() or len(data) != 5:
            self.fail("invalid")
        return super().to_internal_value(data)
