from django.apps import AppConfig


class ComplaintsConfig(AppConfig):
    name = "zhidu.complaints"
    label = "complaints"
    verbose_name = "投诉管理"

    def ready(self):
        from . import jobs  # noqa: F401  (registers the @job functions)
        from .services import register_approval_handlers, register_deadline_resolver

        register_approval_handlers()
        register_deadline_resolver()
