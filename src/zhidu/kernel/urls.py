from django.urls import path

from . import views_calendar, views_packs, views_workflow

app_name = "kernel"
urlpatterns: list = [
    path("calendar/", views_calendar.calendar_index, name="calendar"),
    path("calendar/import/", views_calendar.calendar_import, name="calendar_import"),
    path("calendar/<int:year>/", views_calendar.calendar_year, name="calendar_year"),
    path("calendar/<int:year>/csv/", views_calendar.calendar_year_csv, name="calendar_year_csv"),
    path("calendar/<int:year>/delete/", views_calendar.calendar_delete, name="calendar_delete"),
    path("inbox/", views_workflow.inbox, name="inbox"),
    path("inbox/read/", views_workflow.inbox_read, name="inbox_read"),
    path("inbox/<int:notification_id>/", views_workflow.inbox_open, name="inbox_open"),
    path("approvals/", views_workflow.approvals_pending, name="approvals"),
    path("approvals/<int:request_id>/decide/", views_workflow.approval_decide, name="approval_decide"),
    path("audit/", views_workflow.audit_log, name="audit"),
    path("packs/", views_packs.packs_index, name="packs"),
    path("packs/set/", views_packs.packs_set, name="packs_set"),
    path("packs/<int:version_id>/", views_packs.pack_version, name="pack_version"),
]
