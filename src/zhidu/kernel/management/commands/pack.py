"""`zhidu pack list | show NAME | check FILES... | apply NAME [--effective-from DATE] | diff A B`.

A pack is named by its name (looked up in settings.PACKS_DIR) or by a file path. `show` and `diff` also
take `current` (the version in force now) or `@ID` (an applied version by id).
"""

import datetime as dt
import json

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError
from django.utils import timezone

from zhidu.kernel import policy
from zhidu.kernel.policy import loader, registry


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def _parse_moment(text: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(f"--effective-from: {text!r} is not a date (YYYY-MM-DD) or ISO 8601 date-time") from None
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


class Command(BaseCommand):
    help = "制度包：列出、查看、检查、应用、比较 Regulation packs: list, show, check, apply, diff"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list", help="packs in PACKS_DIR and the applied versions")
        show = sub.add_parser("show", help="every parameter of a pack with its value and source")
        show.add_argument("name", help="pack name, file, 'current' or @VERSION_ID")
        check = sub.add_parser("check", help="validate pack files; non-zero exit on any error")
        check.add_argument("files", nargs="+")
        apply = sub.add_parser("apply", help="apply a pack as a new version")
        apply.add_argument("name")
        apply.add_argument("--effective-from", dest="effective_from", help="YYYY-MM-DD or ISO 8601 (default: now)")
        apply.add_argument("--if-changed", action="store_true", help="do nothing when the current version came from the same pack content")
        diff = sub.add_parser("diff", help="parameters whose value differs between two packs or versions")
        diff.add_argument("a")
        diff.add_argument("b")

    def handle(self, *args, action, **options):
        getattr(self, f"do_{action}")(**options)

    # --- sub-commands ----------------------------------------------------------------------------

    def do_list(self, **options):
        from zhidu.kernel.models import PackVersion

        try:
            current = policy.current_version()
            versions = list(PackVersion.objects.order_by("-effective_from", "-id")[:20])
        except DatabaseError as exc:
            current, versions = None, None
            database_problem = str(exc).strip().splitlines()[0]
        self.stdout.write(f"制度包目录 Packs in {loader.packs_dir()}:")
        for path in loader.pack_files():
            try:
                pack = loader.load(path)
                mark = "*" if current is not None and current.name == pack.name else " "
                implements = ",".join(pack.implements) or "-"
                extends = f" extends {pack.extends[0]}" if pack.extends else ""
                self.stdout.write(f" {mark} {pack.name:<24} {implements:<10} {pack.title}{extends}  ({path.name})")
            except loader.PackError as exc:
                self.stdout.write(f"   {path.name}: {len(exc.issues)} error(s) — run `zhidu pack check {path}`")
        self.stdout.write("")
        self.stdout.write("已应用版本 Applied versions (newest first):")
        if versions is None:
            self.stdout.write(f"  (database not ready — run `zhidu migrate`: {database_problem})")
        elif not versions:
            self.stdout.write("  (none)")
        for version in versions or []:
            mark = "*" if current is not None and version.pk == current.pk else " "
            self.stdout.write(
                f" {mark} @{version.pk:<5} {version.name:<24} effective {timezone.localtime(version.effective_from):%Y-%m-%d %H:%M}  {version.note}"
            )

    def do_show(self, name, **options):
        label, meta, parameters = self._resolve(name)
        self.stdout.write(f"{label}")
        for line in meta:
            self.stdout.write(f"  {line}")
        self.stdout.write("")
        declared = registry.params()
        for key in sorted(set(parameters) | set(declared)):
            entry = parameters.get(key)
            if entry is None:
                param = declared[key]
                value = param.dump(param.load(param.default)) if param.has_default else None
                self.stdout.write(f"{key} = {_json(value)}")
                self.stdout.write(f"    source: {policy.DEFAULT_SOURCE if not parameters else 'zhidu 默认值 (not stated by this pack)'}")
                continue
            if entry.get("value") is None and entry.get("required"):
                self.stdout.write(f"{key} = <待设置 REQUIRED, not set>")
            else:
                self.stdout.write(f"{key} = {_json(entry.get('value'))}")
            self.stdout.write(f"    source: {entry.get('source')}")
            if entry.get("note"):
                self.stdout.write(f"    note: {entry['note']}")
            if key not in declared:
                self.stdout.write("    (no installed app declares this key)")

    def do_check(self, files, **options):
        failed = 0
        for file, issues in loader.check(files).items():
            if issues:
                failed += 1
                for issue in issues:
                    self.stderr.write(str(issue))
            else:
                self.stdout.write(f"OK {file}")
        if failed:
            raise CommandError(f"{failed} of {len(files)} pack file(s) have errors", returncode=1)

    def do_apply(self, name, effective_from=None, if_changed=False, **options):
        moment = _parse_moment(effective_from) if effective_from else None
        try:
            version = policy.apply(name, effective_from=moment, if_changed=if_changed)
        except loader.PackError as exc:
            for issue in exc.issues:
                self.stderr.write(str(issue))
            raise CommandError(f"pack {name} not applied", returncode=1) from None
        when = timezone.localtime(version.effective_from)
        self.stdout.write(f"{version.name} @{version.pk} effective {when.isoformat()}")
        unset = version.unset_required()
        if unset:
            self.stdout.write(f"待设置 to be set on the pack page: {', '.join(unset)}")

    def do_diff(self, a, b, **options):
        label_a, _meta, params_a = self._resolve(a)
        label_b, _meta, params_b = self._resolve(b)
        self.stdout.write(f"--- {label_a}")
        self.stdout.write(f"+++ {label_b}")
        differences = 0
        for key in sorted(set(params_a) | set(params_b)):
            entry_a, entry_b = params_a.get(key), params_b.get(key)
            value_a = entry_a.get("value") if entry_a else None
            value_b = entry_b.get("value") if entry_b else None
            if entry_a is not None and entry_b is not None and value_a == value_b:
                continue
            differences += 1
            self.stdout.write(key)
            self.stdout.write(f"  - {_json(value_a) if entry_a else '(absent)'}" + (f"    [{entry_a['source']}]" if entry_a else ""))
            self.stdout.write(f"  + {_json(value_b) if entry_b else '(absent)'}" + (f"    [{entry_b['source']}]" if entry_b else ""))
        self.stdout.write(f"{differences} parameter(s) differ")

    # --- helpers -------------------------------------------------------------------------------

    def _resolve(self, name: str):
        """(label, meta lines, parameters as stored) for a pack name/file, 'current' or '@ID'."""
        from zhidu.kernel.models import PackVersion

        if name == "current" or name.startswith("@"):
            if name == "current":
                version = policy.current_version()
                if version is None:
                    raise CommandError("no pack is applied")
            else:
                version = PackVersion.objects.filter(pk=name[1:]).first() if name[1:].isdigit() else None
                if version is None:
                    raise CommandError(f"no applied version {name}")
            meta = [
                f"title: {version.title}",
                f"implements: {', '.join(version.implements) or '-'}",
                f"effective from: {timezone.localtime(version.effective_from).isoformat()}",
            ]
            return f"{version.name} @{version.pk}", meta, version.parameters
        try:
            pack = loader.load(name)
        except loader.PackError as exc:
            for issue in exc.issues:
                self.stderr.write(str(issue))
            raise CommandError(f"pack {name} has errors", returncode=1) from None
        meta = [
            f"title: {pack.title}",
            f"implements: {', '.join(pack.implements) or '-'}",
            f"extends: {' → '.join(pack.extends) or '-'}",
            f"apps: {', '.join(pack.apps) or '-'}",
            f"file: {pack.file}",
        ]
        return pack.name, meta, pack.stored_parameters()
