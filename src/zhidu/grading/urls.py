from django.urls import path

from . import views

app_name = "grading"

urlpatterns = [
    path("", views.home, name="home"),
    path("reviews/", views.review_list, name="reviews"),
    path("reviews/start/", views.review_start, name="review_start"),
    path("reviews/<int:review_id>/", views.review_detail, name="review"),
    path("reviews/<int:review_id>/items/<int:item_id>/", views.review_item, name="review_item"),
    path("reviews/<int:review_id>/submit/", views.review_submit, name="review_submit"),
    path("reviews/<int:review_id>/cancel/", views.review_cancel, name="review_cancel"),
    path("reviews/<int:review_id>/export/", views.export_review, name="review_export"),
    path("quota/", views.quota, name="quota"),
    path("progress/", views.progress, name="progress"),
    path("customers/", views.graded_list, name="customers"),
    path("customers/export/", views.export_grades, name="export"),
    path("customers/<int:customer_id>/", views.customer_detail, name="customer"),
    path("customers/<int:customer_id>/metrics/", views.customer_metrics, name="customer_metrics"),
    path("customers/<int:customer_id>/change/", views.customer_change, name="customer_change"),
    path("customers/<int:customer_id>/visits/<int:task_id>/done/", views.visit_done, name="visit_done"),
]
