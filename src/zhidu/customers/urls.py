from django.urls import path

from . import views

app_name = "customers"
urlpatterns: list = [
    path("", views.customer_list, name="list"),
    path("new/", views.customer_create, name="create"),
    path("handover/", views.customers_handover, name="handover"),
    path("<int:pk>/", views.customer_detail, name="detail"),
    path("<int:pk>/edit/", views.customer_edit, name="edit"),
    path("<int:pk>/status/", views.customer_status, name="status"),
    path("<int:pk>/review/", views.customer_review, name="review"),
    path("<int:pk>/contacts/new/", views.contact_add, name="contact_add"),
    path("<int:pk>/contacts/<int:contact_id>/remove/", views.contact_remove, name="contact_remove"),
    path("<int:pk>/documents/new/", views.document_add, name="document_add"),
    path("<int:pk>/documents/<int:document_id>/", views.document_download, name="document_download"),
    path("<int:pk>/transfer/", views.customer_transfer, name="transfer"),
    path("<int:pk>/access/", views.access_request, name="access_request"),
]

# Bulk work: import and export (views_import.py).
from . import views_import  # noqa: E402

urlpatterns += [
    path("import/", views_import.import_page, name="import"),
    path("import/<int:job_id>/", views_import.import_detail, name="import_detail"),
    path("import/<int:job_id>/progress/", views_import.import_progress, name="import_progress"),
    path("import/<int:job_id>/resume/", views_import.import_resume, name="import_resume"),
    path("import/<int:job_id>/errors.xlsx", views_import.import_error_file, name="import_error_file"),
    path("export.xlsx", views_import.export, name="export"),
]
