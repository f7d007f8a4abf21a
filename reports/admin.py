from django.contrib import admin

from reports.models import ClientProfile


@admin.register(ClientProfile)
class ClientProfileAdmin(admin.ModelAdmin):
    list_display = ["client", "seats", "updated_at"]
    search_fields = ["client__name"]
    autocomplete_fields = ["client"]
