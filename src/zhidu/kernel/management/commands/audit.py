"""`zhidu audit verify` checks the hash chain; `zhidu audit tail [-n N]` prints the newest entries."""

import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from zhidu.kernel import audit


class Command(BaseCommand):
    help = "Verify or show the audit log (审计日志)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("verify", help="walk the hash chain; exit 1 naming the first bad entry")
        tail = sub.add_parser("tail", help="print the newest entries")
        tail.add_argument("-n", "--lines", type=int, default=20)

    def handle(self, *args, **options):
        if options["action"] == "verify":
            result = audit.verify()
            if result.ok:
                self.stdout.write(f"OK: {result.checked} entries, hash chain intact")
                return
            where = f"entry id={result.first_bad_entry_id} seq={result.bad_seq}" if result.first_bad_entry_id else f"seq={result.bad_seq}"
            raise CommandError(f"audit log FAILED at {where}: {result.reason}", returncode=1)
        for entry in reversed(audit.entries(limit=max(options["lines"], 1))):
            at = timezone.localtime(entry.at).strftime("%Y-%m-%d %H:%M:%S")
            target = f"{entry.target_type}:{entry.target_id}" if entry.target_type else "-"
            self.stdout.write(
                f"{entry.seq:>8} {at} {entry.actor_username or '-':<16} {entry.ip or '-':<15} {entry.action:<28} "
                f"{target} {json.dumps(entry.details, ensure_ascii=False, sort_keys=True)}"
            )
