from django.apps import AppConfig


class KernelConfig(AppConfig):
    name = "zhidu.kernel"
    label = "kernel"
    verbose_name = "内核"
