"""The data of the webhook events about agreements, blocks and time entries.

Plain JSON (minutes as integers, money as decimal strings, ids as the public
UUIDs of the API), built only when an endpoint listens: the services pass
these functions to webhooks.services.event_emit unevaluated. The shapes are
documented by api.webhooks (the OpenAPI document's WebhookEvent).
"""

from typing import Any

from agreements.models import Agreement, Block, TimeEntry


def agreement_ref(agreement: Agreement) -> dict[str, Any]:
    return {
        "client": {"id": str(agreement.client.public_id), "name": agreement.client.name},
        "agreement": {"id": str(agreement.public_id), "name": agreement.name},
    }


def balance_data(agreement: Agreement) -> dict[str, Any]:
    return {
        **agreement_ref(agreement),
        "balance_minutes": agreement.balance_minutes,
        "threshold_minutes": agreement.low_balance_threshold_minutes,
    }


def block_credited_data(agreement: Agreement, block: Block, kind: str) -> dict[str, Any]:
    return {
        **agreement_ref(agreement),
        "block": {"id": str(block.public_id), "minutes": block.minutes, "credit": kind},
        "balance_minutes": agreement.balance_minutes,
    }


def time_entry_data(agreement: Agreement, entry: TimeEntry) -> dict[str, Any]:
    return {
        **agreement_ref(agreement),
        "time_entry": {
            "id": str(entry.public_id),
            "ticket": entry.ticket.number,
            "technician": entry.technician.username,
            "work_date": entry.work_date.isoformat(),
            "minutes": entry.minutes,
            "charged_minutes": entry.charged_minutes,
            "work_type": entry.work_type.name,
            "voided": entry.voided_at is not None,
            "void_reason": entry.void_reason,
        },
        "balance_minutes": agreement.balance_minutes,
    }
