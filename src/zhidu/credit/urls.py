from django.urls import path

from . import views

app_name = "credit"
urlpatterns = [
    path("", views.home, name="home"),
    path("report/", views.report, name="report"),
    path("customers/<int:pk>/", views.customer, name="customer"),
    path("customers/<int:pk>/<slug:action>/", views.customer_action, name="action"),
    path("registration-changes/", views.changes, name="changes"),
    path("import/", views.import_page, name="import"),
    path("import/<int:job_id>/errors.xlsx", views.import_errors, name="import_errors"),
    path("export/exposure.xlsx", views.export_exposure, name="export_exposure"),
    path("export/overdue.xlsx", views.export_overdue, name="export_overdue"),
]
