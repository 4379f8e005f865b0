from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "zhidu.customers"
    label = "customers"
    verbose_name = "客户档案"

    def ready(self):
        from .services import register_approval_handlers

        register_approval_handlers()
