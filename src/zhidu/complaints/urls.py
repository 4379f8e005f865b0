from django.urls import path

from . import views, views_reports

app_name = "complaints"
urlpatterns = [
    path("", views.complaint_list, name="list"),
    path("new/", views.complaint_new, name="new"),
    path("dashboard/", views_reports.dashboard, name="dashboard"),
    path("reports/", views_reports.report, name="report"),
    path("reports/export.xlsx", views_reports.report_export, name="report_export"),
    path("export.xlsx", views_reports.export, name="export"),
    path("penalties/", views.my_penalties, name="my_penalties"),
    path("<int:pk>/", views.complaint_detail, name="detail"),
    path("<int:pk>/register/", views.register_form, name="register_form"),
    path("<int:pk>/act/<slug:action>/", views.complaint_act, name="act"),
    path("<int:pk>/approvals/<int:approval_id>/", views.approval_decide, name="approval_decide"),
]
