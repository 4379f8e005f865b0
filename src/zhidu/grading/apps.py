from django.apps import AppConfig


class GradingConfig(AppConfig):
    name = "zhidu.grading"
    label = "grading"
    verbose_name = "准入与分级"

    def ready(self):
        from . import jobs  # noqa: F401  (registers the periodic jobs)
        from .services import register

        register()
