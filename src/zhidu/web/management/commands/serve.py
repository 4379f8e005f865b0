"""`zhidu serve`: the production server (gunicorn, 2 × cores workers). Background jobs run in
`zhidu worker` (Celery worker + beat) when ZHIDU_BROKER_URL is set."""

import os

from django.core.management.base import BaseCommand

from zhidu.web.server import ZhiduServer


class Command(BaseCommand):
    help = "以生产配置启动 Serve with the production configuration (gunicorn)"

    def add_arguments(self, parser):
        parser.add_argument("--bind", default=os.environ.get("ZHIDU_BIND", "127.0.0.1:8000"))
        parser.add_argument("--workers", type=int, default=int(os.environ.get("ZHIDU_WORKERS", str(2 * (os.cpu_count() or 1)))))
        parser.add_argument("--threads", type=int, default=int(os.environ.get("ZHIDU_THREADS", "1")))

    def handle(self, *args, bind, workers, threads, **options):
        self.stdout.write(f"zhidu serving on http://{bind}/ with {workers} workers")
        ZhiduServer({"bind": bind, "workers": workers, "threads": threads, "accesslog": None, "loglevel": "warning", "timeout": 120, "preload_app": True}).run()
