"""`python -m bench.suite --database D --scale N --out FILE [--cases a,b]`: one (database, scale) run in
one Django process. Started by bench.run with the run's DATABASE_URL and ZHIDU_VAR_DIR."""

import argparse
import importlib
import json
import os
import time
import traceback
from pathlib import Path

CASES = ["imports", "search", "listing", "export", "grading", "complaints", "http", "djangocrm"]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", required=True)
    parser.add_argument("--scale", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--cases", default=",".join(CASES))
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from bench import datagen
    from bench.common import Context
    from zhidu.kernel import policy

    ctx = Context(database=args.database, database_url=os.environ["DATABASE_URL"], scale=args.scale, var_dir=Path(settings.VAR_DIR))
    call_command("migrate", verbosity=0)
    if policy.current_version() is None:
        policy.apply(datagen.PACK)
    datagen.ensure_org(args.scale)
    failures = []
    for name in [c for c in args.cases.split(",") if c]:
        print(f"  [{args.database} {datagen.scale_label(args.scale)}] {name}", flush=True)
        start = time.perf_counter()
        try:
            importlib.import_module(f"bench.cases.{name}").run(ctx)
        except Exception as exc:  # one failing case must not lose the others' results
            traceback.print_exc()
            failures.append(name)
            ctx.result(name, "FAILED", 0, unit="", note=f"{type(exc).__name__}: {exc}"[:500])
        print(f"  [{args.database} {datagen.scale_label(args.scale)}] {name} took {time.perf_counter() - start:.1f} s", flush=True)
        Path(args.out).write_text(json.dumps(ctx.results, ensure_ascii=False, indent=1))
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
