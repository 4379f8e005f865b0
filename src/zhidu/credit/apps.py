from django.apps import AppConfig


class CreditConfig(AppConfig):
    name = "zhidu.credit"
    label = "credit"
    verbose_name = "信用管理"

    def ready(self):
        from zhidu.kernel import deadlines

        from . import jobs  # noqa: F401  (registers the periodic jobs)
        from .services import REGISTRATION_TARGET, register_approval_handlers, registration_change_resolver

        register_approval_handlers()
        deadlines.register_resolver(REGISTRATION_TARGET, registration_change_resolver)
