"""Bulk seeding for the benchmarks: `INSERT … SELECT` whose column list comes from the Django model.

The benchmarks fill PostgreSQL with tens of thousands of rows in a few
statements (`INSERT INTO t (…) SELECT … FROM generate_series(…)`). Written by
hand, those column lists break on every schema change: a new NOT NULL column
(`Client.language`) makes the INSERT fail, a dropped one makes it name a
column that is gone. Here each benchmark gives only the columns it cares
about, as SQL expressions; every other column of the model is filled from
the model itself:

- a nullable column gets NULL;
- a column with a database default is left out (the database fills it);
- a UUID column with a callable default (public ids) gets gen_random_uuid();
- any other column with a model default gets that default, evaluated once;
- a NOT NULL column with no default at all stops the seed with its name, so
  the benchmark is fixed here, in one place, rather than in three scripts.

Also `create_database_sql()`: how a benchmark makes its throw-away database,
and `results_dir()`: where a benchmark writes its JSON (BENCH_RESULTS_DIR,
default bench/results/), so the smoke test does not overwrite real figures.
"""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def create_database_sql(name: str) -> str:
    """`CREATE DATABASE` for a benchmark's throw-away database.

    With BENCH_TEMPLATE_DATABASE set (the smoke test sets it), the database is
    copied from that one, already migrated, so the benchmark's own migrate has
    nothing left to do.
    """
    template = os.environ.get("BENCH_TEMPLATE_DATABASE")
    return f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")


def results_dir() -> Path:
    path = Path(os.environ.get("BENCH_RESULTS_DIR") or ROOT / "bench" / "results")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _default_expression(model, field, params: dict) -> str | None:
    """The SQL for a column the benchmark did not give, or None to leave it to the database."""
    from django.db import connection
    from django.db.models import NOT_PROVIDED, UUIDField

    if field.db_default is not NOT_PROVIDED:
        return None
    if field.null:
        return "NULL"
    if isinstance(field, UUIDField) and callable(field.default):
        return "gen_random_uuid()"
    if field.has_default() or field.empty_strings_allowed:
        key = f"_seed_{model._meta.db_table}_{field.column}"
        params[key] = field.get_db_prep_save(field.get_default(), connection=connection)
        return f"%({key})s"
    raise ValueError(
        f"bench seed: {model._meta.db_table}.{field.column} is NOT NULL without a default; "
        f"give it a value in the benchmark's seed"
    )


def insert_select_sql(model: type, values: dict[str, str], source: str, params: dict) -> str:
    """`INSERT INTO <table> (<every column>) SELECT <expressions> <source>`.

    `values` maps a field name (or its column, e.g. `client_id`) to a SQL
    expression over `source` (the FROM … part, e.g. `FROM generate_series(1, %(n)s) AS n`).
    Defaults for the other columns are added to `params` as named parameters.
    """
    fields = {field.name: field for field in model._meta.concrete_fields}
    fields.update({field.column: field for field in model._meta.concrete_fields})
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ValueError(f"bench seed: {model._meta.db_table} has no column {', '.join(unknown)}")
    given = {fields[name].column: expression for name, expression in values.items()}
    columns, expressions = [], []
    for field in model._meta.concrete_fields:
        if (field.primary_key and field.column not in given) or field.generated:  # the database computes these
            continue
        expression = given.get(field.column) or _default_expression(model, field, params)
        if expression is None:
            continue
        columns.append(field.column)
        expressions.append(expression)
    return (
        f"INSERT INTO {model._meta.db_table} ({', '.join(columns)})\n"  # noqa: S608 - names from the model
        f"SELECT {', '.join(expressions)}\n{source}"
    )


def insert_select(cursor, model: type, values: dict[str, str], source: str, params: dict | None = None) -> None:
    """Run one `insert_select_sql` statement on `cursor` with `params` (named, psycopg style)."""
    params = dict(params or {})
    cursor.execute(insert_select_sql(model, values, source, params), params)
