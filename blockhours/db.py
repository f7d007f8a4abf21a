"""Small database helpers the ORM lacks, for SQLite and PostgreSQL alike."""

from django.db import connections, router
from django.db.models import Model
from django.db.models.sql import InsertQuery


def insert_unless_conflict(obj: Model) -> bool:
    """INSERT `obj` unless a row already holds one of its unique values; True when inserted (obj.pk set).

    One statement (`INSERT … ON CONFLICT DO NOTHING RETURNING pk`) where
    save() in a savepoint takes three and an IntegrityError. Only unique
    constraints are skipped, on both databases: a NOT NULL or CHECK violation
    still raises. On PostgreSQL a conflicting row that another transaction
    has inserted but not committed makes this wait for that transaction: if
    it commits, nothing is inserted; if it rolls back, this row is.
    """
    model = type(obj)
    meta = model._meta
    alias = router.db_for_write(model, instance=obj)
    connection = connections[alias]
    fields = [
        f for f in meta.local_concrete_fields if not f.generated and (obj.pk is not None or f is not meta.auto_field)
    ]
    query = InsertQuery(model)
    query.insert_values(fields, [obj])
    [(sql, params)] = query.get_compiler(connection=connection).as_sql()
    pk_column = connection.ops.quote_name(meta.pk.column)
    with connection.cursor() as cursor:
        cursor.execute(f"{sql} ON CONFLICT DO NOTHING RETURNING {pk_column}", params)
        row = cursor.fetchone()
    if row is None:
        return False
    obj.pk = meta.pk.to_python(row[0])
    obj._state.adding = False
    obj._state.db = alias
    return True
