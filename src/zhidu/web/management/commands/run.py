"""`zhidu run`: prepare the embedded database (migrate, default pack, demo data on first run only),
print the URL and the demo logins, and serve on 127.0.0.1:8000 with the in-process job scheduler."""

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from zhidu.demo.load import demo_logins, ensure_demo
from zhidu.web.server import ZhiduServer


class Command(BaseCommand):
    help = "准备数据库并启动 zhidu（内置 SQLite） Prepare the database and serve zhidu"

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-demo", action="store_true", help="不加载演示数据 Do not load demo data")
        parser.add_argument("--threads", type=int, default=8)

    def handle(self, *args, host, port, no_demo, threads, **options):
        call_command("migrate", interactive=False, verbosity=0)
        created = False if no_demo else ensure_demo(stdout=self.stdout)
        url = f"http://{host}:{port}/"
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"zhidu 已启动 is running at {url}"))
        self.stdout.write(f"数据库 Database: {settings.DATABASES['default']['NAME']}")
        if not no_demo:
            self.stdout.write("演示账号 Demo logins" + (" (新建 new)" if created else "") + ":")
            for username, role_name, password in demo_logins():
                self.stdout.write(f"  {username:<12} {password:<20} {role_name}")
        self.stdout.write("按 Ctrl+C 停止 Press Ctrl+C to stop.")
        self.stdout.flush()

        def start_scheduler():
            from zhidu.kernel.jobs import start_in_process_scheduler

            start_in_process_scheduler()

        ZhiduServer(
            {"bind": f"{host}:{port}", "workers": 1, "threads": threads, "worker_class": "gthread", "accesslog": None, "loglevel": "warning", "timeout": 120},
            post_worker_init=start_scheduler,
        ).run()
