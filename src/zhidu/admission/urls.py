from django.urls import path

from . import views

app_name = "admission"

urlpatterns = [
    path("", views.application_list, name="list"),
    path("new/", views.application_create, name="create"),
    path("<int:pk>/", views.application_detail, name="detail"),
    path("<int:pk>/items/<slug:key>/", views.item_check, name="item_check"),
    path("<int:pk>/items/<slug:key>/evidence/", views.evidence_add, name="evidence_add"),
    path("<int:pk>/evidence/<int:evidence_id>/", views.evidence_download, name="evidence_download"),
    path("<int:pk>/evidence/<int:evidence_id>/remove/", views.evidence_remove, name="evidence_remove"),
    path("<int:pk>/investigations/<slug:stage>/", views.investigation_record, name="investigation"),
    path("<int:pk>/report/", views.report_save, name="report_save"),
    path("<int:pk>/submit/", views.application_submit, name="submit"),
    path("<int:pk>/decision/", views.application_decide, name="decide"),
    path("<int:pk>/withdraw/", views.application_withdraw, name="withdraw"),
    path("<int:pk>/reapply/", views.application_reapply, name="reapply"),
    path("<int:pk>/setup/<slug:key>/", views.setup_step, name="setup_step"),
    path("blacklist/", views.blacklist_list, name="blacklist"),
    path("blacklist/new/", views.blacklist_add, name="blacklist_add"),
    path("blacklist/report/", views.blacklist_report, name="report"),
    path("blacklist/export.xlsx", views.blacklist_export, name="blacklist_export"),
    path("blacklist/<int:pk>/", views.blacklist_detail, name="blacklist_detail"),
    path("blacklist/<int:pk>/lift/", views.blacklist_lift, name="blacklist_lift"),
    path("blacklist/<int:pk>/reentry/", views.reentry_request, name="reentry_request"),
    path("blacklist/<int:pk>/reentry/<int:reentry_id>/decision/", views.reentry_decide, name="reentry_decide"),
]
