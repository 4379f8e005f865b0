from django.apps import AppConfig


class AdmissionConfig(AppConfig):
    name = "zhidu.admission"
    label = "admission"
    verbose_name = "客户准入与黑名单"

    def ready(self):
        from . import jobs  # noqa: F401  (registers the periodic jobs)
        from .services import register_approval_handlers

        register_approval_handlers()
