"""Staff pages of client imports: upload (dry run), preview, confirm, and
the progress a large import reports while a worker runs it."""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from imports.models import ImportRun, ImportStatus
from imports.parsing import COLUMNS, FileRefused, check_size, template_csv
from imports.services import import_confirm, import_status, import_upload
from ui.access import get_by_public_id, staff_required

RECENT = 20


class UploadForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("CSV file"))


@staff_required
def upload(request: HttpRequest) -> HttpResponse:
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload_file = form.cleaned_data["file"]

        try:
            check_size(upload_file.size)  # before reading it into memory
            run = import_upload(filename=upload_file.name, data=upload_file.read(), actor=request.user)
        except FileRefused as error:
            form.add_error("file", str(error))
        else:
            return redirect("imports:run", public_id=run.public_id)
    return render(
        request,
        "imports/upload.html",
        {"form": form, "columns": COLUMNS, "runs": ImportRun.objects.select_related("created_by")[:RECENT]},
        status=400 if form.errors else 200,
    )


@staff_required
def template(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(template_csv(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="blockhours-client-import.csv"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


@staff_required
def run_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    run = get_by_public_id(ImportRun.objects.all(), public_id)
    return render(request, "imports/run.html", {"run": run, "progress": import_status(run), "Status": ImportStatus})


@staff_required
@require_POST
def run_confirm(request: HttpRequest, public_id: str) -> HttpResponse:
    run = get_by_public_id(ImportRun.objects.all(), public_id)
    try:
        run = import_confirm(run=run, actor=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        if run.status == ImportStatus.DONE:
            messages.success(request, _("Imported %(count)s rows.") % {"count": run.row_count})
        elif run.status == ImportStatus.FAILED:
            messages.error(request, _("Nothing was imported: %(error)s") % {"error": run.error})
        else:
            messages.info(request, _("The import runs in the background; this page shows its progress."))
    return redirect("imports:run", public_id=run.public_id)


@staff_required
def run_status(request: HttpRequest, public_id: str) -> JsonResponse:
    run = get_by_public_id(ImportRun.objects.all(), public_id)
    return JsonResponse(import_status(run))
