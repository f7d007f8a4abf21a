"""Clients, their contacts and agreements."""

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Max
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext, gettext_lazy

from accounts import services as account_services
from accounts.models import Role, User
from accounts.services import user_save_new
from agreements.domain import (
    MAX_BLOCK_HOURS,
    MAX_BLOCK_MINUTES,
    MAX_ENTRY_MINUTES,
    check_date_in_range,
)
from agreements.models import (
    MAX_GRACE_DAYS,
    MAX_RENEWAL_INVOICE_DAYS,
    MAX_ROLLOVER_GRACE_MONTHS,
    Agreement,
    AgreementStatus,
    Block,
    Client,
    ClientContact,
    OveragePolicy,
    Renewal,
    RolloverPolicy,
    TermEndAction,
    Tier,
    TopupMode,
    WorkType,
)
from agreements.services.ledger import _lock, _pool_minutes
from audit.models import AuditAction
from audit.services import audit_record


def client_create(
    *,
    name: str,
    hourly_rate: Decimal = Decimal("100.00"),
    currency: str | None = None,
    billing_email: str = "",
    billing_address: str = "",
    billing_name: str = "",
    language: str = "",
) -> Client:
    client = Client(
        name=name.strip(),
        hourly_rate=hourly_rate,
        billing_email=billing_email,
        billing_address=billing_address,
        billing_name=billing_name,
    )
    if currency:
        client.currency = currency.upper()
    if language:
        client.language = language
    _client_save(client)
    return client


def _client_save(client: Client, *, update_fields: list[str] | None = None) -> None:
    """Validate and save, with one message for a name another client already
    has (ignoring case): found before saving, or by the database's constraint
    when two requests take the same name at once."""
    taken = ValidationError({"name": gettext("A client named “%(name)s” already exists.") % {"name": client.name}})
    if Client.objects.filter(name__iexact=client.name).exclude(pk=client.pk).exists():
        raise taken
    client.full_clean()
    try:
        with transaction.atomic():
            client.save(update_fields=update_fields)
    except IntegrityError:
        raise taken from None


def client_update(
    *,
    client: Client,
    actor: User,
    name: str | None = None,
    hourly_rate: Decimal | None = None,
    currency: str | None = None,
    billing_name: str | None = None,
    billing_email: str | None = None,
    billing_address: str | None = None,
    language: str | None = None,
) -> Client:
    """Change a client's details; None leaves a field as it is.

    A new hourly rate prices future sales only: blocks keep the rate they were
    sold at. The currency is fixed once the client has a block or an invoice,
    which carry their own currency: mixing them would make totals meaningless."""
    wanted: dict[str, object] = {
        "name": name.strip() if name is not None else None,
        "hourly_rate": hourly_rate,
        "currency": currency.strip().upper() if currency is not None else None,
        "billing_name": billing_name,
        "billing_email": billing_email,
        "billing_address": billing_address,
        "language": language,
    }
    with transaction.atomic():
        client = Client.objects.select_for_update().get(pk=client.pk)
        before = {field: getattr(client, field) for field, value in wanted.items() if value is not None}
        changed = [field for field, value in wanted.items() if value is not None and value != before[field]]
        if not changed:
            return client
        if "currency" in changed and (
            Block.objects.filter(agreement__client=client).exists() or client.invoices.exists()
        ):
            raise ValidationError(
                {
                    "currency": gettext(
                        "The currency cannot change once the client has blocks or invoices: "
                        "their amounts are in %(currency)s."
                    )
                    % {"currency": client.currency}
                }
            )
        for field in changed:
            setattr(client, field, wanted[field])
        _client_save(client, update_fields=changed)
        audit_record(
            actor=actor,
            action=AuditAction.CLIENT_UPDATE,
            target=client,
            client=client,
            before={field: before[field] for field in changed},
            after={field: getattr(client, field) for field in changed},
            summary=format_lazy(
                gettext_lazy("Changed the details of {client}: {fields}"),
                client=client.name,
                fields=format_lazy(
                    ", ".join(["{}"] * len(changed)), *(Client._meta.get_field(f).verbose_name for f in changed)
                ),
            ),
        )
    return client


def client_contact_create(
    *,
    client: Client,
    username: str,
    email: str,
    first_name: str = "",
    last_name: str = "",
    receives_invoices: bool = True,
) -> ClientContact:
    """A user with the client role, tied to exactly one client (no usable password yet)."""
    with transaction.atomic():
        user = User(username=username, email=email, first_name=first_name, last_name=last_name, role=Role.CLIENT)
        user.set_unusable_password()
        user_save_new(user)
        return ClientContact.objects.create(user=user, client=client, receives_invoices=receives_invoices)


def client_contact_invite(*, client: Client, invited_by: User, **contact: Any) -> ClientContact:
    """Add a contact to a client (the fields of client_contact_create) and
    invite them to choose a password, in the client's language: the contact
    and the invitation exist together or not at all."""
    with transaction.atomic():
        created = client_contact_create(client=client, **contact)
        account_services.invitation_send(user=created.user, invited_by=invited_by, language=client.language)
    return created


def _check_agreement_terms(agreement: Agreement) -> None:
    """Bounds the model's field types do not give: a plausible term, and no
    threshold, limit or increment beyond the largest block or the longest entry."""
    _ = gettext
    today = timezone.localdate()
    errors: dict[str, list[str]] = {}
    for name in ("starts_on", "ends_on"):
        try:
            check_date_in_range(getattr(agreement, name), field=name, today=today)
        except ValidationError as error:
            errors.update(error.message_dict)
    if not errors and agreement.ends_on and agreement.starts_on and agreement.ends_on < agreement.starts_on:
        errors["ends_on"] = [_("The agreement cannot end before it starts.")]
    limits = {
        "low_balance_threshold_minutes": (
            MAX_BLOCK_MINUTES,
            _("A threshold cannot be more than the largest block (%(hours)s h)."),
        ),
        "overage_limit_minutes": (
            MAX_BLOCK_MINUTES,
            _("An overage limit cannot be more than the largest block (%(hours)s h)."),
        ),
        "billing_increment_minutes": (
            MAX_ENTRY_MINUTES,
            _("A billing increment cannot be longer than a day (%(minutes)s min)."),
        ),
        "minimum_billable_minutes": (
            MAX_ENTRY_MINUTES,
            _("A minimum billable time cannot be longer than a day (%(minutes)s min)."),
        ),
    }
    for name, (maximum, message) in limits.items():
        value = getattr(agreement, name)
        if isinstance(value, int) and value > maximum:
            errors[name] = [message % {"hours": MAX_BLOCK_HOURS, "minutes": MAX_ENTRY_MINUTES}]
    if agreement.topup_mode == TopupMode.CHARGE and agreement.reload_tier_id is None:
        errors["reload_tier"] = [_("Charging the payment method on file needs a reload tier.")]
    elif agreement.reload_tier_id is not None and not agreement.reload_tier.is_active:
        errors["reload_tier"] = [_("This tier is no longer on sale.")]
    # A setting only one overage policy reads is refused under the others:
    # accepted and then ignored, it would promise what no code does.
    if agreement.overage_limit_minutes and agreement.overage_policy != OveragePolicy.ALLOW_NEGATIVE:
        errors["overage_limit_minutes"] = [
            _("An overage limit applies only under the allow-negative policy; leave it at 0 or change the policy.")
        ]
    if agreement.overage_rate is not None and agreement.overage_policy != OveragePolicy.BILL_OVERAGE:
        errors["overage_rate"] = [
            _("An overage rate applies only under the bill-overage policy; leave it empty or change the policy.")
        ]
    errors.update(_renewal_term_errors(agreement))
    if errors:
        raise ValidationError(errors)


def _renewal_term_errors(agreement: Agreement) -> dict[str, list[str]]:
    """The end-of-term settings: each one is asked for where it is read, and
    refused where nothing would read it (like the overage settings above)."""
    _ = gettext
    errors: dict[str, list[str]] = {}
    renews = agreement.term_end_action == TermEndAction.RENEW
    if agreement.term_end_action not in TermEndAction.values:
        return {"term_end_action": [_("Choose what happens at the end of the term.")]}
    if agreement.rollover_policy not in RolloverPolicy.values:
        return {"rollover_policy": [_("Choose a rollover policy.")]}
    if renews:
        if agreement.ends_on is None:
            errors["ends_on"] = [_("A renewing agreement needs an end date: the renewal starts the day after.")]
        if agreement.renewal_tier_id is None:
            errors["renewal_tier"] = [_("Choose the tier of the block sold for each new term.")]
        elif not agreement.renewal_tier.is_active:
            errors["renewal_tier"] = [_("This tier is no longer on sale.")]
        if agreement.renewal_invoice_days is None:
            errors["renewal_invoice_days"] = [_("Say how many days before the end the renewal invoice is issued.")]
    else:
        not_renewing = _("applies only to an agreement that renews; leave it empty or choose to renew.")
        if agreement.renewal_tier_id is not None:
            errors["renewal_tier"] = [_("A renewal tier %(rest)s") % {"rest": not_renewing}]
        if agreement.renewal_invoice_days is not None:
            errors["renewal_invoice_days"] = [_("A renewal invoice day %(rest)s") % {"rest": not_renewing}]
        if agreement.rollover_policy != RolloverPolicy.NONE:
            errors["rollover_policy"] = [_("A rollover %(rest)s") % {"rest": not_renewing}]
    if (
        isinstance(agreement.renewal_invoice_days, int)
        and not 0 <= agreement.renewal_invoice_days <= MAX_RENEWAL_INVOICE_DAYS
    ):
        errors["renewal_invoice_days"] = [
            _("The renewal invoice is issued between 0 and %(max)s days before the end.")
            % {"max": MAX_RENEWAL_INVOICE_DAYS}
        ]
    capped_hours = agreement.rollover_policy == RolloverPolicy.CAPPED_HOURS
    capped_percent = agreement.rollover_policy == RolloverPolicy.CAPPED_PERCENT
    cap = agreement.rollover_cap_minutes
    if capped_hours and (cap is None or not 0 < cap <= MAX_BLOCK_MINUTES):
        errors["rollover_cap_minutes"] = [
            _("Enter the rollover cap: between 1 min and the largest block (%(hours)s h).") % {"hours": MAX_BLOCK_HOURS}
        ]
    elif not capped_hours and cap is not None:
        errors["rollover_cap_minutes"] = [
            _("A rollover cap in hours applies only to the capped-hours rollover; leave it empty.")
        ]
    percent = agreement.rollover_cap_percent
    if capped_percent and (percent is None or not 1 <= percent <= 100):
        errors["rollover_cap_percent"] = [_("Enter the rollover cap as a percentage from 1 to 100.")]
    elif not capped_percent and percent is not None:
        errors["rollover_cap_percent"] = [
            _("A rollover cap in percent applies only to the capped-share rollover; leave it empty.")
        ]
    months = agreement.rollover_grace_months
    if isinstance(months, int) and not 0 <= months <= MAX_ROLLOVER_GRACE_MONTHS:
        errors["rollover_grace_months"] = [
            _("Rolled-over hours expire within %(max)s months.") % {"max": MAX_ROLLOVER_GRACE_MONTHS}
        ]
    elif months and agreement.rollover_policy == RolloverPolicy.NONE:
        errors["rollover_grace_months"] = [
            _("A rollover grace applies only when unused hours roll over; leave it at 0 or choose a rollover.")
        ]
    days = agreement.grace_days
    if isinstance(days, int) and not 0 <= days <= MAX_GRACE_DAYS:
        errors["grace_days"] = [_("The grace period is at most %(max)s days.") % {"max": MAX_GRACE_DAYS}]
    elif days and agreement.ends_on is None:
        errors["grace_days"] = [_("Grace days apply only to an agreement with an end date; leave them at 0.")]
    return errors


def agreement_create(
    *,
    client: Client,
    work_types: list[WorkType] | None = None,
    position: int | None = None,
    actor: User | None = None,
    **fields: object,
) -> Agreement:
    """A new agreement, last in the client's order unless `position` puts it
    elsewhere (the others then move down one place)."""
    # No time yet: its burn is counted (0) for today, so pages rank it from the cache.
    agreement = Agreement(client=client, burn_computed_on=timezone.localdate(), **fields)
    _check_agreement_terms(agreement)
    with transaction.atomic():
        # The client row lock queues two agreements created at once for one
        # client (and a reorder), so each takes its own place at the end.
        # NO KEY UPDATE: invoices and tickets of the client, inserted by
        # writers that hold an agreement lock, are not held up by it.
        Client.objects.select_for_update(no_key=True).get(pk=client.pk)
        last = Agreement.objects.filter(client=client).aggregate(last=Max("position"))["last"] or 0
        agreement.position = last + 1
        agreement.full_clean()
        agreement.save()
        if work_types:
            agreement.work_types.set(work_types)
        if position is not None and position != agreement.position:
            agreement = agreement_reorder(agreement=agreement, position=position, actor=actor)
    return agreement


# The settings staff change on an agreement after creating it, through
# agreement_update (the dashboard's edit page and the API's PATCH build their
# fields from this list): a new setting is editable once its name is here.
AGREEMENT_SETTINGS: tuple[str, ...] = (
    "name",
    "low_balance_threshold_minutes",
    "usage_alert_percent",
    "billing_increment_minutes",
    "rounding_mode",
    "minimum_billable_minutes",
    "weekends_holidays_after_hours",
    "overage_policy",
    "overage_limit_minutes",
    "overage_rate",
    "credit_policy",
    "topup_mode",
    "reload_tier",
    "burn_order",
    "term_end_action",
    "renewal_tier",
    "renewal_invoice_days",
    "rollover_policy",
    "rollover_cap_minutes",
    "rollover_cap_percent",
    "rollover_grace_months",
    "grace_days",
)


def _audit_value(value: object) -> object:
    """A setting as the audit log keeps it: a tier by its name."""
    return str(value) if isinstance(value, Tier) else value


def agreement_update(*, agreement: Agreement, actor: User | None, **changes: object) -> Agreement:
    """Change an agreement's settings (names in AGREEMENT_SETTINGS), checked by
    the rules agreement_create applies; only what differs is saved and audited.

    Each setting is read when it is used, so a change applies from the next
    use on: time already logged keeps the minutes it was charged, blocks
    already sold keep their price and credit, and the next sweep compares the
    balance with the new threshold."""
    _ = gettext
    unknown = sorted(set(changes) - set(AGREEMENT_SETTINGS))
    if unknown:
        raise ValidationError({name: _("This setting cannot be changed here.") for name in unknown})
    if isinstance(changes.get("name"), str):
        changes["name"] = changes["name"].strip()
    with transaction.atomic():
        # The row lock: a time entry being logged reads the increment, the
        # rounding and the overage policy under it, so it sees all the old
        # settings or all the new ones.
        agreement = _lock(agreement)
        if agreement.status != AgreementStatus.ACTIVE:
            raise ValidationError(
                _("“%(agreement)s” has ended: its settings can no longer be changed.") % {"agreement": agreement.name}
            )
        before = {name: getattr(agreement, name) for name in AGREEMENT_SETTINGS}
        changed = [name for name in AGREEMENT_SETTINGS if name in changes and changes[name] != before[name]]
        if not changed:
            return agreement
        for name in changed:
            setattr(agreement, name, changes[name])
        errors: dict[str, list[str]] = {}
        if "overage_policy" in changed and _pool_minutes(agreement) < 0:
            # The time beyond the blocks was charged under the old policy: under a
            # new one it would be repaid, or billed, as it never was promised to be.
            errors["overage_policy"] = [
                _(
                    "%(minutes)s min of time beyond the blocks is not settled yet: bill it or sell a block "
                    "first, then change the overage policy."
                )
                % {"minutes": -_pool_minutes(agreement)}
            ]
        if (
            "term_end_action" in changed
            and Renewal.objects.filter(agreement=agreement, term_ends_on=agreement.ends_on).exists()
        ):
            errors["term_end_action"] = [
                _("The renewal of this term is already sold; what happens at its end can no longer change.")
            ]
        try:
            _check_agreement_terms(agreement)
        except ValidationError as error:
            errors.update(error.message_dict)
        if not errors:
            try:
                agreement.full_clean(exclude=[f.name for f in Agreement._meta.fields if f.name not in changed])
            except ValidationError as error:
                errors.update(error.message_dict)
        if errors:
            raise ValidationError(errors)
        agreement.save(update_fields=changed)
        audit_record(
            actor=actor,
            action=AuditAction.AGREEMENT_UPDATE,
            target=agreement,
            client=agreement.client,
            before={name: _audit_value(before[name]) for name in changed},
            after={name: _audit_value(getattr(agreement, name)) for name in changed},
            summary=format_lazy(
                gettext_lazy("Changed the settings of agreement “{agreement}” of {client}: {fields}"),
                agreement=agreement.name,
                client=agreement.client.name,
                fields=format_lazy(
                    ", ".join(["{}"] * len(changed)), *(Agreement._meta.get_field(f).verbose_name for f in changed)
                ),
            ),
        )
    return agreement


def _agreements_in_order_locked(client: Client) -> list[Agreement]:
    """The client's agreements in its order, each row locked for the
    renumbering. The locks are taken in primary-key order, as every caller
    that locks several agreements takes them (time logged by client locks all
    of them): the renumbering UPDATE alone would lock rows in the table's
    physical order and could wait in a circle with such a caller. FOR UPDATE,
    not NO KEY UPDATE, because the position is in a unique constraint."""
    locked = list(Agreement.objects.select_for_update(of=("self",)).filter(client=client).order_by("pk"))
    return sorted(locked, key=lambda a: (a.position, a.pk))


def agreement_reorder(*, agreement: Agreement, position: int, actor: User | None) -> Agreement:
    """Move the agreement to `position` (1 = first) in its client's order; the
    agreements in between shift by one place, so the order stays 1, 2, 3…"""
    if isinstance(position, bool) or not isinstance(position, int):
        raise ValidationError({"position": gettext("Enter the position as a whole number.")})
    with transaction.atomic():
        # Under the client row lock (NO KEY UPDATE, as agreement_create): two
        # reorders, or a reorder and a new agreement, at once for one client
        # would each number from a stale order. A stronger lock would wait on
        # writers that hold an agreement lock and insert an invoice or a
        # ticket of the client, while they wait on our renumbering: a deadlock.
        client = Client.objects.select_for_update(no_key=True).get(pk=agreement.client_id)
        ordered = _agreements_in_order_locked(client)
        if not 1 <= position <= len(ordered):
            raise ValidationError(
                {
                    "position": gettext("Choose a position from 1 to %(count)s (the client has %(count)s agreements).")
                    % {"count": len(ordered)}
                }
            )
        moving = next(a for a in ordered if a.pk == agreement.pk)
        before = [a.name for a in ordered]
        old_position = ordered.index(moving) + 1
        ordered.remove(moving)
        ordered.insert(position - 1, moving)
        if [a.position for a in ordered] == list(range(1, len(ordered) + 1)):
            return moving
        # Out of the way first, then into place: the unique (client, position)
        # constraint is checked row by row, and a plain renumbering would
        # collide with a neighbour's old place halfway through.
        beyond = max(a.position for a in ordered)
        Agreement.objects.filter(client=client).update(position=F("position") + beyond)
        for place, item in enumerate(ordered, start=1):
            Agreement.objects.filter(pk=item.pk).update(position=place)
            item.position = place
        audit_record(
            actor=actor,
            action=AuditAction.AGREEMENT_ORDER,
            target=moving,
            client=client,
            before={"order": before},
            after={"order": [a.name for a in ordered]},
            summary=format_lazy(
                gettext_lazy("Moved agreement “{agreement}” of {client} from place {old} to {new}"),
                agreement=moving.name,
                client=client.name,
                old=old_position,
                new=position,
            ),
        )
    return moving


def agreement_set_work_types(*, agreement: Agreement, work_types: list[WorkType], actor: User | None) -> Agreement:
    """Which work types the agreement covers; none means all. Time already
    logged stays where it was charged; new entries follow the new cover."""
    inactive = [w.name for w in work_types if not w.is_active]
    if inactive:
        raise ValidationError(
            {"work_types": gettext("No longer in use: %(names)s.") % {"names": ", ".join(sorted(inactive))}}
        )
    with transaction.atomic():
        # The agreement row lock: an entry being logged on it checks its cover
        # under the same lock, so it sees the old cover or the new one, whole.
        agreement = Agreement.objects.select_for_update(no_key=True).select_related("client").get(pk=agreement.pk)
        before = sorted(agreement.work_types.values_list("name", flat=True))
        after = sorted({w.name for w in work_types})
        if before == after:
            return agreement
        agreement.work_types.set(work_types)
        everything = gettext_lazy("all work types")
        audit_record(
            actor=actor,
            action=AuditAction.AGREEMENT_WORK_TYPES,
            target=agreement,
            client=agreement.client,
            before={"work_types": before},
            after={"work_types": after},
            summary=format_lazy(
                gettext_lazy("Agreement “{agreement}” of {client} now covers {work_types}"),
                agreement=agreement.name,
                client=agreement.client.name,
                work_types=", ".join(after) if after else everything,
            ),
        )
    return agreement
