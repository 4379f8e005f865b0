from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "zhidu.web"
    label = "web"
    verbose_name = "界面"
