from django.apps import AppConfig


class ComplaintsConfig(AppConfig):
    name = "zhidu.complaints"
    label = "complaints"
    verbose_name = "投诉管理"

    def ready(self):
        from zhidu.kernel import calendar

        from . import jobs  # (importing registers the @job functions)
        from .services import register_approval_handlers, register_deadline_resolver

        register_approval_handlers()
        register_deadline_resolver()
        calendar.on_year_entered(jobs.after_year_entered)
