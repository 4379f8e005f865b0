"""`zhidu export customers OUT.xlsx --user USERNAME [--q TEXT] [--department CODE] [--owner USERNAME]
[--status S] [--type T] [--region R]`

Writes the customers USERNAME can see (their scope and clearance, phones and 身份证号 masked as for
them) to OUT.xlsx; the export is audited under their name."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from zhidu.kernel.errors import ApiError
from zhidu.org.models import Department

from ... import exporting


class Command(BaseCommand):
    help = "导出客户 Export customers to XLSX: zhidu export customers OUT.xlsx --user USERNAME"

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=["customers"])
        parser.add_argument("out", help="the .xlsx file to write")
        parser.add_argument("--user", required=True, help="export as this user (scope, clearance and masking apply)")
        parser.add_argument("--q", default="", help="search text, as in the list")
        parser.add_argument("--department", help="department code (its subtree is included)")
        parser.add_argument("--owner", help="owner username")
        parser.add_argument("--status")
        parser.add_argument("--type", dest="customer_type")
        parser.add_argument("--region")

    def handle(self, *args, kind, out, user, q, department, owner, status, customer_type, region, **options):
        if not out.lower().endswith(".xlsx"):
            raise CommandError("输出文件须为 .xlsx The output file must end in .xlsx")
        User = get_user_model()
        actor = User.objects.select_related("role", "department").filter(username=user).first()
        if actor is None:
            raise CommandError(f"用户不存在 unknown user: {user}")
        filters = {"q": q, "status": status, "customer_type": customer_type, "region": region}
        if department:
            found = Department.objects.filter(code=department).values_list("pk", flat=True).first()
            if found is None:
                raise CommandError(f"部门不存在 unknown department: {department}")
            filters["department"] = found
        if owner:
            found = User.objects.filter(username=owner).values_list("pk", flat=True).first()
            if found is None:
                raise CommandError(f"用户不存在 unknown user: {owner}")
            filters["owner"] = found
        try:
            path, _name, rows = exporting.export_customers(actor, {k: v for k, v in filters.items() if v}, path=out)
        except ApiError as exc:
            raise CommandError(str(exc.message)) from exc
        self.stdout.write(f"已导出 {rows} 行到 {path} exported {rows} rows")
