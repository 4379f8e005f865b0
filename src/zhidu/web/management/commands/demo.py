from django.core.management.base import BaseCommand

from zhidu.demo.load import demo_logins, ensure_demo


class Command(BaseCommand):
    help = "加载演示数据（仅首次） Load the demo data (first run only)"

    def handle(self, *args, **options):
        created = ensure_demo(stdout=self.stdout)
        self.stdout.write("已加载 loaded" if created else "演示数据已存在 demo data already present")
        for username, role_name, password in demo_logins():
            self.stdout.write(f"  {username:<12} {password:<20} {role_name}")
