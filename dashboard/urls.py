from django.urls import path

from dashboard import views, webhooks

app_name = "dashboard"
urlpatterns = [
    path("", views.home, name="home"),
    path("clients/new/", views.client_new, name="client_new"),
    path("clients/<str:public_id>/", views.client_detail, name="client"),
    path("clients/<str:public_id>/edit/", views.client_edit, name="client_edit"),
    path("clients/<str:public_id>/agreements/new/", views.agreement_new, name="agreement_new"),
    path("clients/<str:public_id>/contacts/invite/", views.contact_invite, name="contact_invite"),
    path(
        "clients/<str:public_id>/contacts/<int:contact_id>/reinvite/", views.contact_reinvite, name="contact_reinvite"
    ),
    path("agreements/<str:public_id>/edit/", views.agreement_edit, name="agreement_edit"),
    path("agreements/<str:public_id>/move/", views.agreement_move, name="agreement_move"),
    path("agreements/<str:public_id>/work-types/", views.agreement_work_types, name="agreement_work_types"),
    path("agreements/<str:public_id>/sell/", views.block_sell, name="block_sell"),
    path("agreements/<str:public_id>/adjust/", views.adjust, name="adjust"),
    path("agreements/<str:public_id>/goodwill/", views.block_goodwill, name="block_goodwill"),
    path("agreements/<str:public_id>/overage/", views.overage_bill, name="overage_bill"),
    path("agreements/<str:public_id>/cancel/", views.agreement_cancel, name="agreement_cancel"),
    path("blocks/<str:public_id>/cancel/", views.block_cancel, name="block_cancel"),
    path("blocks/<str:public_id>/expiry/", views.block_expiry, name="block_expiry"),
    path("reloads/<str:public_id>/", views.reload_draft, name="reload_draft"),
    path("blocks/<str:public_id>/move/", views.block_move, name="block_move"),
    path("technicians/invite/", views.technician_invite, name="technician_invite"),
    path("team/", views.team, name="team"),
    path("team/<str:username>/reinvite/", views.member_reinvite, name="member_reinvite"),
    path("questions/<str:public_id>/", views.question_resolve, name="question_resolve"),
    path("requests/<str:public_id>/handled/", views.request_handled, name="request_handled"),
    path("business-hours/", views.business_hours, name="business_hours"),
    path("work-types/", views.work_types, name="work_types"),
    path("work-types/new/", views.work_type_new, name="work_type_new"),
    path("work-types/<int:pk>/", views.work_type_edit, name="work_type_edit"),
    path("business-hours/holidays/", views.holiday_add, name="holiday_add"),
    path("business-hours/holidays/<str:public_id>/remove/", views.holiday_remove, name="holiday_remove"),
    path("lockouts/", views.lockouts, name="lockouts"),
    path("lockouts/unlock/", views.lockout_unlock, name="lockout_unlock"),
    path("webhooks/", webhooks.webhooks, name="webhooks"),
    path("webhooks/<str:public_id>/", webhooks.webhook, name="webhook"),
    path("webhooks/<str:public_id>/rotate/", webhooks.webhook_rotate, name="webhook_rotate"),
    path("webhooks/<str:public_id>/remove/", webhooks.webhook_delete, name="webhook_delete"),
    path("webhook-deliveries/<str:public_id>/resend/", webhooks.webhook_resend, name="webhook_resend"),
]
