from django.urls import include, path

from zhidu.api import api

urlpatterns = [
    path("api/v1/", api.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("zhidu.org.urls")),
    path("customers/", include("zhidu.customers.urls")),
    path("grading/", include("zhidu.grading.urls")),
    path("admission/", include("zhidu.admission.urls")),
    path("credit/", include("zhidu.credit.urls")),
    path("complaints/", include("zhidu.complaints.urls")),
    path("c/", include("zhidu.complaints.public_urls")),
    path("kernel/", include("zhidu.kernel.urls")),
    path("", include("zhidu.web.urls")),
]
