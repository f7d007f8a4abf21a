#!/usr/bin/env python
"""Invoice PDF benchmark: the real code path against a bare WeasyPrint render.

    .venv/bin/python bench/invoice_pdf.py [--invoices 200] [--database-url URL]

Makes a throw-away database (SQLite in a temporary folder unless
--database-url is given) with N issued invoices, then, in the same run and
interleaved invoice by invoice so machine noise hits both alike:

- real: billing.tasks.render_invoice_pdf(id, force=True) — what the worker
  runs: load the invoice, lock its row, build the context, render the
  template, WeasyPrint with the static-only fetcher, write the file to
  media storage, update the row;
- bare: weasyprint.HTML(string=html).write_pdf() on the same HTML (prepared
  beforehand), with the same fetcher so the stylesheet loads in both.

Prints ms per invoice (mean and median) and the ratio real / bare; the
issue's target is a ratio of at most 1.3. Results also go to bench/results/.
"""

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup_django(database_url: str | None, workdir: Path) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "blockhours.settings")
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key-not-for-production")
    os.environ.setdefault("SITE_URL", "http://127.0.0.1:8000")
    os.environ["BLOCKHOURS_VAR_DIR"] = str(workdir)
    os.environ["MEDIA_ROOT"] = str(workdir / "media")
    # Setup queues the renders to a throw-away filesystem broker instead of rendering them inline.
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "false"
    os.environ["LOG_LEVEL"] = "WARNING"
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    else:
        os.environ.pop("DATABASE_URL", None)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, skip_checks=True)


def make_invoices(count: int) -> list[int]:
    from django.utils import timezone

    from agreements import services as agreement_services
    from agreements.models import Tier
    from billing import services
    from billing.models import PaymentMethod, SellerProfile

    SellerProfile.objects.update_or_create(
        pk=1,
        defaults={
            "name": "Northwind IT Services",
            "address": "200 Harbor Way, Suite 4\nPortland, OR 97201",
            "email": "billing@northwind.example",
            "tax_id": "EIN 12-3456789",
            "payment_instructions": "ACH to First Harbor Bank, routing 123000848, account 4401 2288 19",
            "payment_terms_days": 15,
        },
    )
    tiers = list(Tier.objects.order_by("hours"))
    ids = []
    for n in range(count):
        client = agreement_services.client_create(
            name=f"Bench Client {n:04d}",
            billing_address=f"{n + 1} Bench Street\nSpringfield, IL 62704",
            billing_email=f"ap{n}@bench.example",
        )
        agreement = agreement_services.agreement_create(client=client)
        invoice = services.invoice_sell_block(agreement=agreement, tier=tiers[n % len(tiers)], actor=None)
        if n % 3 == 0:  # a third of them paid, so the PAID stamp and payment rows are rendered too
            services.payment_record(
                invoice=invoice,
                amount=invoice.total,
                method=PaymentMethod.ACH,
                reference=f"ACH-{n}",
                paid_on=timezone.localdate(),
                actor=None,
            )
        ids.append(invoice.pk)
    return ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--invoices", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bh-bench-") as tmp:
        setup_django(args.database_url, Path(tmp))
        import weasyprint
        from django.db import connection

        from billing import pdf, tasks
        from billing.models import Invoice

        t0 = time.perf_counter()
        ids = make_invoices(args.invoices)
        setup_s = time.perf_counter() - t0
        # The bare render gets exactly the HTML the real path renders.
        html = {pk: pdf.invoice_html(Invoice.objects.get(pk=pk)) for pk in ids}
        fetcher = pdf.url_fetcher()

        def real(pk: int) -> None:
            tasks.render_invoice_pdf(pk, force=True)

        def bare(pk: int) -> None:
            weasyprint.HTML(string=html[pk], base_url=pdf.BASE_URL, url_fetcher=fetcher).write_pdf()

        for pk in ids[: args.warmup]:  # font loading, imports, caches
            real(pk)
            bare(pk)

        times = {"real": [], "bare": []}
        for i, pk in enumerate(ids):
            order = (("real", real), ("bare", bare)) if i % 2 == 0 else (("bare", bare), ("real", real))
            for name, run in order:
                start = time.perf_counter()
                run(pk)
                times[name].append((time.perf_counter() - start) * 1000)

        summary = {
            name: {
                "mean_ms": statistics.fmean(values),
                "median_ms": statistics.median(values),
                "p95_ms": sorted(values)[math.ceil(len(values) * 0.95) - 1],  # nearest rank
            }
            for name, values in times.items()
        }
        ratio_mean = summary["real"]["mean_ms"] / summary["bare"]["mean_ms"]
        ratio_median = summary["real"]["median_ms"] / summary["bare"]["median_ms"]
        sample = Invoice.objects.get(pk=ids[0])
        result = {
            "invoices": len(ids),
            "database": connection.vendor,
            "weasyprint": weasyprint.__version__,
            "setup_seconds": round(setup_s, 1),
            **{f"{name}_{key}": round(value, 1) for name, stats in summary.items() for key, value in stats.items()},
            "ratio_mean": round(ratio_mean, 3),
            "ratio_median": round(ratio_median, 3),
            "sample_pdf_bytes": sample.pdf.size,
        }

    print(
        f"{len(ids)} invoices on {result['database']}, WeasyPrint {result['weasyprint']} (interleaved, {args.warmup} warm-up)"
    )
    print(f"{'':6} {'mean':>9} {'median':>9} {'p95':>9}   (ms per invoice)")
    for name in ("real", "bare"):
        s = summary[name]
        print(f"{name:6} {s['mean_ms']:9.1f} {s['median_ms']:9.1f} {s['p95_ms']:9.1f}")
    print(f"ratio real/bare: {ratio_mean:.3f} (mean), {ratio_median:.3f} (median); target <= 1.3")
    from bench.seed import results_dir

    out = results_dir()
    (out / f"invoice_pdf-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
