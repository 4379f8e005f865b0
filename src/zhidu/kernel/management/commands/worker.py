"""`zhidu worker`: a Celery worker with embedded beat (-B) that runs the registered jobs."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Run a Celery worker with embedded beat for zhidu's periodic jobs (needs ZHIDU_BROKER_URL)."

    def add_arguments(self, parser):
        parser.add_argument("--concurrency", "-c", type=int, default=None)
        parser.add_argument("--loglevel", "-l", default="info")
        parser.add_argument("--pool", "-P", default=None)
        parser.add_argument("--no-beat", action="store_true", help="worker only (when beat runs elsewhere)")

    def handle(self, *args, **options):
        if not settings.CELERY_BROKER_URL:
            raise CommandError(
                "ZHIDU_BROKER_URL is not set. Set it to your broker, e.g. ZHIDU_BROKER_URL=redis://127.0.0.1:6379/0, "
                "or run `zhidu run` without it: jobs then run in-process. "
                "未设置 ZHIDU_BROKER_URL：请设置消息代理地址，或直接使用 zhidu run（任务在进程内运行）。"
            )
        from zhidu.kernel.celery_app import app

        argv = ["worker", "--loglevel", options["loglevel"]]
        if not options["no_beat"]:
            settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
            argv += ["-B", "--schedule", str(settings.VAR_DIR / "celerybeat-schedule")]
        if options["concurrency"]:
            argv += ["--concurrency", str(options["concurrency"])]
        if options["pool"]:
            argv += ["--pool", options["pool"]]
        app.worker_main(argv)
