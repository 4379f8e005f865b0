"""`zhidu import customers FILE [--user USERNAME] [--department CODE] [--update-existing]`

Imports a customer list from XLSX or CSV synchronously, printing progress. An interrupted import of the
same file is resumed from its last committed chunk; `--new` starts over (existing customers are then
reported as duplicates, never inserted twice)."""

import sys
import time

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from zhidu.kernel import importing
from zhidu.kernel.errors import ApiError
from zhidu.kernel.models import ImportJob


class Command(BaseCommand):
    help = "导入客户 Import customers from an XLSX or CSV file: zhidu import customers FILE"

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=["customers"], help="what to import")
        parser.add_argument("file", help="the .xlsx or .csv file")
        parser.add_argument("--user", help="import as this user (their permission, data scope and defaults apply)")
        parser.add_argument("--department", help="department code for rows that name none")
        parser.add_argument("--type", dest="customer_type", help="customer type for rows that name none")
        parser.add_argument("--update-existing", action="store_true", help="update customers whose credit code / 身份证号 exists")
        parser.add_argument("--new", action="store_true", help="start a new job even if an interrupted one exists for this file")
        parser.add_argument("--chunk-size", type=int, default=importing.CHUNK_SIZE)

    def handle(self, *args, kind, file, user, department, customer_type, update_existing, new, chunk_size, **options):
        actor = None
        if user:
            actor = get_user_model().objects.select_related("role", "department").filter(username=user).first()
            if actor is None:
                raise CommandError(f"用户不存在 unknown user: {user}")
            if not actor.has_perm_code("customers.import"):
                raise CommandError(f"用户 {user} 没有导入客户的权限 (customers.import)")
        opts = {k: v for k, v in {"department": department, "customer_type": customer_type, "update_existing": update_existing}.items() if v}
        try:
            job = None if new else importing.unfinished_job(kind, file, user=actor)
            if job is not None:
                self.stdout.write(f"继续未完成的导入任务 #{job.pk}（已处理 {job.processed_rows} 行） resuming job #{job.pk}")
            else:
                job = importing.job_create(kind, file, user=actor, options=opts)
            started = time.monotonic()
            first = job.processed_rows

            def progress(j):
                rate = (j.processed_rows - first) / max(time.monotonic() - started, 1e-6)
                total = j.total_rows if j.total_rows is not None else "?"
                sys.stdout.write(f"\r已处理 {j.processed_rows}/{total} 行 · 成功 {j.ok_rows} · 失败 {j.failed_rows} · {rate:,.0f} 行/秒   ")
                sys.stdout.flush()

            job = importing.run_job(job.pk, chunk_size=chunk_size, progress=progress)
        except (ApiError, OSError) as exc:
            raise CommandError(str(getattr(exc, "message", exc))) from exc
        self.stdout.write("")
        if job.status != ImportJob.Status.DONE:
            raise CommandError(f"导入任务 #{job.pk} 失败 failed: {job.message}")
        if job.message:
            self.stdout.write(job.message)
        self.stdout.write(
            f"导入完成 done: job #{job.pk}, {job.processed_rows} 行 rows, 成功 ok {job.ok_rows}"
            f"（其中更新 updated {job.updated_rows}）, 失败 failed {job.failed_rows}"
        )
        if job.failed_rows:
            self.stdout.write(f"错误文件 error file: {job.error_file}")
            for error in importing.row_errors(job, limit=20):
                self.stdout.write(f"  第 {error.row_number} 行 row {error.row_number}: {error.message}")
            if job.failed_rows > 20:
                self.stdout.write("  …")
