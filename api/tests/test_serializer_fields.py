"""Serializers that build their fields once per class (issue 20: DRF rebuilt
them from the model for every instance, about a tenth of a time-entry POST's
CPU). Each instance still gets fields of its own, bound to it."""

from django.utils import timezone

from agreements import services
from agreements.tests.factories import work_type
from api.serializers import TimeEntrySerializer


def test_each_instance_gets_its_own_fields_from_one_template():
    first, second = TimeEntrySerializer(), TimeEntrySerializer()
    assert list(first.fields) == list(second.fields)
    assert "charged_minutes" in first.fields
    for name in first.fields:
        assert first.fields[name] is not second.fields[name]
        assert first.fields[name].parent is first
        assert second.fields[name].parent is second
    assert TimeEntrySerializer._fields_template["charged_minutes"].parent is None  # the template stays unbound


def test_it_serializes_an_entry_the_same_way_twice(funded, ticket, technician):
    entry = services.time_entry_log(
        agreement=funded,
        technician=technician,
        ticket=ticket,
        work_date=timezone.localdate(),
        minutes=30,
        work_type=work_type("Normal"),
    )
    first, second = TimeEntrySerializer(entry).data, TimeEntrySerializer(entry).data
    assert first == second
    assert (first["id"], first["agreement"], first["charged_minutes"], first["technician"]) == (
        str(entry.public_id),
        str(funded.public_id),
        30,
        technician.username,
    )
