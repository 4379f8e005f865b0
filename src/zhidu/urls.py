from django.urls import include, path

from zhidu.api import api

urlpatterns = [
    path("api/v1/", api.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("zhidu.org.urls")),
    path("customers/", include("zhidu.customers.urls")),
    path("kernel/", include("zhidu.kernel.urls")),
    path("", include("zhidu.web.urls")),
]
