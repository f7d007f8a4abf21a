"""Client imports: the dry run (what a file would create or change), and the
import itself, all in one transaction, through the agreements services.

The dry run compares every row with what exists by loading, once per file,
the clients named in it, their agreements, their opening balances, the
external ids and the contacts' accounts: a handful of queries whatever the
number of rows.
"""

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext, gettext_lazy

from accounts.models import User
from agreements import services as agreement_services
from agreements.domain import format_minutes
from agreements.models import Agreement, Block, Client, LedgerEntry, LedgerKind, OveragePolicy
from agreements.services.opening_balances import (
    NewContact,
    OpeningBalance,
    agreements_create_many,
    client_contacts_create_many,
    clients_create_many,
    opening_balances_credit,
)
from audit.models import AuditAction
from audit.services import audit_record
from imports.models import ImportKey, ImportRun, ImportStatus
from imports.parsing import CellError, FileRefused, Parsed, Row, parse

PREVIEW_ROWS = 200  # rows listed on the preview page; the counts cover them all
PREVIEW_ERRORS = 1000
CHUNK = 1000  # rows written between two progress reports


class ImportFailed(Exception):
    """The file no longer imports cleanly (something changed since its dry run): nothing was written."""


@dataclass
class RowPlan:
    row: Row
    action: str  # "create", "update" or "unchanged"
    client: Client | None = None  # existing client
    agreement: Agreement | None = None  # existing agreement
    new_client: bool = False
    client_changes: dict[str, object] = field(default_factory=dict)
    agreement_changes: dict[str, object] = field(default_factory=dict)
    new_contacts: list[tuple[str, str]] = field(default_factory=list)
    add_key: bool = False
    opening: bool = False  # credit the opening balance
    notes: list[str] = field(default_factory=list)


@dataclass
class Plan:
    rows: list[RowPlan] = field(default_factory=list)
    errors: list[CellError] = field(default_factory=list)
    row_count: int = 0

    def counts(self) -> dict[str, int]:
        return {
            "rows": self.row_count,
            "create": sum(1 for p in self.rows if p.action == "create"),
            "update": sum(1 for p in self.rows if p.action == "update"),
            "unchanged": sum(1 for p in self.rows if p.action == "unchanged"),
            "clients": len({p.row.client_name.casefold() for p in self.rows if p.new_client}),
            "contacts": sum(len(p.new_contacts) for p in self.rows),
            "opening_balances": sum(1 for p in self.rows if p.opening),
            "opening_minutes": sum(p.row.opening_minutes for p in self.rows if p.opening),
            "errors": len(self.errors),
        }


def _split_name(name: str) -> tuple[str, str]:
    first, _, last = name.partition(" ")
    return first[:150], last[:150]


def import_plan(parsed: Parsed) -> Plan:
    """Compare the file's rows with what exists: what each row would create
    or change, and every error tied to its row and column."""
    plan = Plan(errors=list(parsed.errors), row_count=parsed.row_count)
    rows = parsed.rows
    _ = gettext

    # Rows that stand for the same agreement, or describe one client two ways.
    first_of: dict[tuple[str, ...], int] = {}
    client_row: dict[str, Row] = {}
    unique_rows = []
    for row in rows:
        if row.key in first_of:
            plan.errors.append(
                CellError(
                    row.number,
                    "external_id" if row.external_id else "agreement_name",
                    _("the same agreement as row %(row)s (duplicate row)") % {"row": first_of[row.key]},
                )
            )
            continue
        first_of[row.key] = row.number
        other = client_row.setdefault(row.client_name.casefold(), row)
        if other is not row and other.client_fields != row.client_fields:
            plan.errors.append(
                CellError(
                    row.number,
                    "client_name",
                    _("billing email, currency, language or hourly rate differ from row %(row)s for the same client")
                    % {"row": other.number},
                )
            )
            continue
        unique_rows.append(row)

    # Everything the rows refer to, one query per kind.
    keys = {
        key.external_id: key
        for key in ImportKey.objects.filter(external_id__in=[r.external_id for r in unique_rows if r.external_id])
    }
    names = {r.client_name.casefold() for r in unique_rows}
    key_clients = {
        key.agreement.client_id
        for key in ImportKey.objects.filter(external_id__in=list(keys)).select_related("agreement")
    }
    clients = {
        c.name.casefold(): c
        for c in Client.objects.annotate(lower_name=Lower("name")).filter(lower_name__in=[n.lower() for n in names])
    }
    client_ids = {c.pk for c in clients.values()} | key_clients
    agreements = list(Agreement.objects.filter(client_id__in=client_ids).select_related("client"))
    by_pk = {a.pk: a for a in agreements}
    by_name: dict[tuple[int, str], list[Agreement]] = defaultdict(list)
    for agreement in agreements:
        by_name[(agreement.client_id, agreement.name.casefold())].append(agreement)
    keyed = {key.agreement_id: key.external_id for key in ImportKey.objects.filter(agreement_id__in=list(by_pk))}
    openings = {
        agreement_id: (minutes, rate, expires_on)
        for agreement_id, minutes, rate, expires_on in LedgerEntry.objects.filter(
            kind=LedgerKind.OPENING_BALANCE, agreement_id__in=list(by_pk)
        ).values_list("agreement_id", "minutes", "block__rate", "block__expires_on")
    }
    with_blocks = set(
        Block.objects.filter(agreement__client_id__in=client_ids).values_list("agreement__client_id", flat=True)
    )
    emails = {email.lower() for r in unique_rows for _n, email in r.contacts}
    users = (
        {
            u.username.lower(): u
            for u in User.objects.annotate(lower=Lower("username"))
            .filter(lower__in=list(emails))
            .select_related("client_contact")
        }
        if emails
        else {}
    )
    # Matched agreements, so two rows never claim the same one.
    claimed: dict[int, int] = {}
    new_emails: dict[str, tuple[int, str]] = {}  # a new contact's email -> (first row, client)

    for row in unique_rows:
        p = RowPlan(row=row, action="unchanged")
        agreement = None
        if row.external_id and row.external_id in keys:
            agreement = by_pk.get(keys[row.external_id].agreement_id)
            if agreement is not None and agreement.client.name.casefold() != row.client_name.casefold():
                plan.errors.append(
                    CellError(
                        row.number,
                        "external_id",
                        _("“%(id)s” is already the agreement “%(agreement)s” of %(client)s")
                        % {"id": row.external_id, "agreement": agreement.name, "client": agreement.client.name},
                    )
                )
                continue
        client = agreement.client if agreement is not None else clients.get(row.client_name.casefold())
        if agreement is None and client is not None:
            found = by_name.get((client.pk, row.agreement_name.casefold()), [])
            if len(found) > 1:
                plan.errors.append(
                    CellError(
                        row.number,
                        "agreement_name",
                        _("%(client)s has %(count)s agreements named “%(name)s”; give this row their external id")
                        % {"client": client.name, "count": len(found), "name": row.agreement_name},
                    )
                )
                continue
            agreement = found[0] if found else None
            if agreement is not None and row.external_id:
                if keyed.get(agreement.pk) not in (None, row.external_id):
                    plan.errors.append(
                        CellError(
                            row.number,
                            "external_id",
                            _("the agreement “%(name)s” already has the external id “%(id)s”")
                            % {"name": agreement.name, "id": keyed[agreement.pk]},
                        )
                    )
                    continue
                p.add_key = keyed.get(agreement.pk) is None
        elif agreement is None and row.external_id:
            p.add_key = True
        if agreement is not None:
            if agreement.pk in claimed:
                plan.errors.append(
                    CellError(
                        row.number,
                        "agreement_name",
                        _("the same agreement as row %(row)s (duplicate row)") % {"row": claimed[agreement.pk]},
                    )
                )
                continue
            claimed[agreement.pk] = row.number
        p.client, p.agreement = client, agreement
        errors_before = len(plan.errors)

        # The client: new, or the details that differ.
        if client is None:
            p.new_client = row is client_row[row.client_name.casefold()]
        else:
            wanted = {
                "billing_email": row.billing_email or client.billing_email,
                "currency": row.currency,
                "language": row.language or client.language,
                "hourly_rate": row.hourly_rate,
            }
            p.client_changes = {k: v for k, v in wanted.items() if v != getattr(client, k)}
            if "currency" in p.client_changes and client.pk in with_blocks:
                plan.errors.append(
                    CellError(
                        row.number,
                        "currency",
                        _("%(client)s already has blocks in %(currency)s; its currency cannot change")
                        % {"client": client.name, "currency": client.currency},
                    )
                )
            if row is not client_row[row.client_name.casefold()]:
                p.client_changes = {}  # the client's first row changes it
        # Contacts: new accounts, or already this client's.
        for name, email in row.contacts:
            user = users.get(email.lower())
            if user is None:
                first = new_emails.setdefault(email.lower(), (row.number, row.client_name.casefold()))
                if first[0] == row.number:
                    p.new_contacts.append((name, email))
                elif first[1] != row.client_name.casefold():
                    plan.errors.append(
                        CellError(
                            row.number,
                            "contacts",
                            _("%(email)s is a contact of another client on row %(row)s")
                            % {"email": email, "row": first[0]},
                        )
                    )
            else:
                contact = getattr(user, "client_contact", None)
                if contact is None or client is None or contact.client_id != client.pk:
                    plan.errors.append(
                        CellError(
                            row.number,
                            "contacts",
                            _("%(email)s already signs in to Blockhours for someone else") % {"email": email},
                        )
                    )
        # The agreement: new, or the settings that differ.
        if agreement is not None:
            if row.term_start is not None and row.term_start != agreement.starts_on:
                plan.errors.append(
                    CellError(
                        row.number,
                        "term_start",
                        _("the agreement started on %(date)s; change its term on its page, not by import")
                        % {"date": agreement.starts_on.isoformat()},
                    )
                )
            if row.term_end != agreement.ends_on:
                plan.errors.append(
                    CellError(
                        row.number,
                        "term_end",
                        _("the agreement ends on %(date)s; change its term on its page, not by import")
                        % {"date": agreement.ends_on.isoformat() if agreement.ends_on else "none"},
                    )
                )
            wanted = {
                "name": row.agreement_name,
                "low_balance_threshold_minutes": row.threshold_minutes,
                "overage_policy": row.overage_policy,
            }
            p.agreement_changes = {k: v for k, v in wanted.items() if v is not None and v != getattr(agreement, k)}
        # The opening balance: once per agreement.
        if row.opening_minutes:
            existing = openings.get(agreement.pk) if agreement is not None else None
            if existing is None:
                p.opening = True
            elif existing != (row.opening_minutes, row.opening_rate, row.opening_expires_on):
                plan.errors.append(
                    CellError(
                        row.number,
                        "opening_balance",
                        _(
                            "the agreement already has an opening balance of %(duration)s at %(rate)s; "
                            "correct it with an adjustment, not by import"
                        )
                        % {"duration": format_minutes(existing[0]), "rate": existing[1]},
                    )
                )
        if len(plan.errors) > errors_before:
            continue
        if agreement is None:
            p.action = "create"
        elif p.client_changes or p.agreement_changes or p.new_contacts or p.add_key or p.opening:
            p.action = "update"
        plan.rows.append(p)
    plan.errors.sort(key=lambda e: (e.row, e.column))
    return plan


def preview_of(plan: Plan) -> dict:
    """What the preview page shows, kept with the run (JSON)."""
    lines = []
    for p in plan.rows[:PREVIEW_ROWS]:
        changes = [*p.client_changes, *p.agreement_changes]
        lines.append(
            {
                "row": p.row.number,
                "action": p.action,
                "client": p.row.client_name,
                "new_client": p.new_client,
                "agreement": p.row.agreement_name,
                "changes": changes,
                "contacts": [email for _n, email in p.new_contacts],
                "opening": format_minutes(p.row.opening_minutes) if p.opening else "",
                "opening_rate": str(p.row.opening_rate) if p.opening else "",
            }
        )
    return {
        "counts": plan.counts(),
        "lines": lines,
        "errors": [{"row": e.row, "column": e.column, "message": e.message} for e in plan.errors[:PREVIEW_ERRORS]],
    }


def import_upload(*, filename: str, data: bytes, actor: User | None) -> ImportRun:
    """The dry run of an uploaded file, kept for staff to confirm. A file that
    cannot be read at all raises FileRefused and leaves nothing behind."""
    parsed = parse(data)
    plan = import_plan(parsed)
    return ImportRun.objects.create(
        filename=filename[:255],
        content=data.decode("utf-8-sig") if _is_utf8(data) else data.decode("cp1252"),
        row_count=parsed.row_count,
        status=ImportStatus.INVALID if plan.errors else ImportStatus.PREVIEWED,
        preview=preview_of(plan),
        created_by=actor,
    )


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return False
    return True


def progress_key(run: ImportRun) -> str:
    return f"imports:progress:{run.public_id}"


def import_confirm(*, run: ImportRun, actor: User) -> ImportRun:
    """Staff confirmed the dry run: import now, or queue it for a worker when
    the file is large (the page then polls its progress)."""
    from imports.tasks import import_run_task  # tasks import this module

    if run.row_count > settings.IMPORT_INLINE_MAX_ROWS:
        # Claimed by a conditional update: a double click queues it once.
        claimed = ImportRun.objects.filter(pk=run.pk, status=ImportStatus.PREVIEWED).update(
            status=ImportStatus.QUEUED, confirmed_by=actor
        )
        if claimed != 1:
            raise ValidationError(gettext("This file is not waiting for confirmation."))
        cache.set(progress_key(run), 0, 24 * 3600)
        # Queued after commit: a worker never looks for a run whose status is not saved yet.
        transaction.on_commit(lambda: import_run_task.delay(run.pk))
        run.refresh_from_db()
        return run
    claimed = ImportRun.objects.filter(pk=run.pk, status=ImportStatus.PREVIEWED).update(
        status=ImportStatus.RUNNING, confirmed_by=actor
    )
    if claimed != 1:
        raise ValidationError(gettext("This file is not waiting for confirmation."))
    return import_execute(run_id=run.pk)


def import_execute(*, run_id: int, claim_queued: bool = False) -> ImportRun:
    """Import a confirmed run: all its rows in one transaction, or none (the
    run is then marked failed with the reason)."""
    if claim_queued:
        # A task delivered twice runs once.
        if ImportRun.objects.filter(pk=run_id, status=ImportStatus.QUEUED).update(status=ImportStatus.RUNNING) != 1:
            return ImportRun.objects.get(pk=run_id)
    run = ImportRun.objects.select_related("confirmed_by").get(pk=run_id)
    key = progress_key(run)

    def report(done: int) -> None:
        cache.set(key, done, 24 * 3600)

    try:
        with transaction.atomic():
            import_apply(data=run.content.encode("utf-8"), actor=run.confirmed_by, progress=report, run=run)
    except (FileRefused, ImportFailed, ValidationError, IntegrityError) as error:
        if isinstance(error, IntegrityError):
            # A client, contact or external id created by someone else since the check.
            message = gettext(
                "Another change to the same clients got there first; nothing was imported. Upload the file again."
            )
        else:
            message = "; ".join(error.messages) if isinstance(error, ValidationError) else str(error)
        ImportRun.objects.filter(pk=run.pk).update(
            status=ImportStatus.FAILED, error=message[:5000], finished_at=timezone.now()
        )
    except Exception:
        ImportRun.objects.filter(pk=run.pk).update(
            status=ImportStatus.FAILED,
            error=gettext("The import stopped on an unexpected error; nothing was imported."),
            finished_at=timezone.now(),
        )
        raise
    else:
        ImportRun.objects.filter(pk=run.pk).update(status=ImportStatus.DONE, finished_at=timezone.now())
    run.refresh_from_db()
    return run


@dataclass(frozen=True)
class ImportResult:
    counts: dict[str, int]
    agreements: list[Agreement]


def import_apply(
    *,
    data: bytes,
    actor: User | None,
    progress: Callable[[int], None] | None = None,
    run: ImportRun | None = None,
) -> ImportResult:
    """Check the file again against what exists now and write it: in the
    caller's transaction, so it is all written or none. Raises ImportFailed
    when any row has an error."""
    if not transaction.get_connection().in_atomic_block:  # not an assert: `python -O` would drop it
        raise RuntimeError("Import inside one transaction: all of it is written, or none.")
    plan = import_plan(parse(data))
    if plan.errors:
        raise ImportFailed("; ".join(str(e) for e in plan.errors[:20]))
    written: list[Agreement] = []
    done = 0
    for start in range(0, len(plan.rows), CHUNK):
        written += _apply_chunk(plan.rows[start : start + CHUNK], actor)
        done += len(plan.rows[start : start + CHUNK])
        if progress is not None:
            progress(done)
    counts = plan.counts()
    if counts["create"] or counts["update"]:
        audit_record(
            actor=actor,
            action=AuditAction.CLIENTS_IMPORT,
            target=run if run is not None else ("import", "command"),
            client=None,
            before={},
            after={k: v for k, v in counts.items() if k != "errors"},
            summary=format_lazy(
                gettext_lazy(
                    "Imported {rows} rows: {create} agreements created, {update} updated, "
                    "{openings} opening balances ({duration})"
                ),
                rows=counts["rows"],
                create=counts["create"],
                update=counts["update"],
                openings=counts["opening_balances"],
                duration=format_minutes(counts["opening_minutes"]),
            ),
        )
    return ImportResult(counts=counts, agreements=written)


def _apply_chunk(rows: list[RowPlan], actor: User | None) -> list[Agreement]:
    # Changes to what exists, through the usual services (audited there).
    for p in rows:
        if p.client_changes:
            agreement_services.client_update(client=p.client, actor=actor, **p.client_changes)
        if p.agreement_changes:
            agreement_services.agreement_update(agreement=p.agreement, actor=actor, **p.agreement_changes)
    # New clients, then their contacts and agreements, in bulk.
    new_clients = clients_create_many(
        clients=[
            Client(
                name=p.row.client_name,
                billing_email=p.row.billing_email,
                currency=p.row.currency,
                language=p.row.language or settings.LANGUAGE_CODE,
                hourly_rate=p.row.hourly_rate,
            )
            for p in rows
            if p.new_client
        ]
    )
    by_name = {c.name.casefold(): c for c in new_clients}
    if len(by_name) != len(new_clients) or any(
        p.client is None and p.row.client_name.casefold() not in by_name for p in rows
    ):
        # A client's rows spread over two chunks: look up the one the earlier chunk created.
        missing = {p.row.client_name.casefold() for p in rows if p.client is None} - set(by_name)
        for client in Client.objects.annotate(lower_name=Lower("name")).filter(
            lower_name__in=[n.lower() for n in missing]
        ):
            by_name[client.name.casefold()] = client
    for p in rows:
        if p.client is None:
            p.client = by_name[p.row.client_name.casefold()]
    client_contacts_create_many(
        contacts=[NewContact(p.client, email, *_split_name(name)) for p in rows for name, email in p.new_contacts]
    )
    today = timezone.localdate()
    new = [p for p in rows if p.agreement is None]
    created = agreements_create_many(
        agreements=[
            Agreement(
                client=p.client,
                name=p.row.agreement_name,
                starts_on=p.row.term_start or today,
                ends_on=p.row.term_end,
                low_balance_threshold_minutes=120 if p.row.threshold_minutes is None else p.row.threshold_minutes,
                overage_policy=p.row.overage_policy or OveragePolicy.REJECT,
            )
            for p in new
        ]
    )
    for p, agreement in zip(new, created, strict=True):
        agreement.client = p.client
        p.agreement = agreement
    ImportKey.objects.bulk_create(
        [ImportKey(external_id=p.row.external_id, agreement=p.agreement) for p in rows if p.add_key],
        batch_size=CHUNK,
    )

    def opening(p: RowPlan) -> OpeningBalance:
        return OpeningBalance(
            p.agreement, p.row.opening_minutes, p.row.opening_rate or Decimal(0), p.row.opening_expires_on
        )

    new_ids = {a.pk for a in created}
    opening_balances_credit(
        items=[opening(p) for p in rows if p.opening and p.agreement.pk in new_ids], actor=actor, new_agreements=True
    )
    opening_balances_credit(
        items=[opening(p) for p in rows if p.opening and p.agreement.pk not in new_ids], actor=actor
    )
    return [p.agreement for p in rows]


def import_status(run: ImportRun) -> dict[str, object]:
    """The progress the page polls."""
    done = run.row_count if run.status == ImportStatus.DONE else cache.get(progress_key(run)) or 0
    total = run.row_count or 1
    return {
        "status": run.status,
        "status_display": str(run.get_status_display()),
        "done": done,
        "total": run.row_count,
        "percent": min(100, round(100 * done / total)),
        "error": run.error,
        "finished": run.status in (ImportStatus.DONE, ImportStatus.FAILED),
    }
