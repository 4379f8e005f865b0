"""`python -m bench.child module:function [JSON args]`: runs one benchmark step in a fresh process (so
its peak memory is its own) and prints the function's JSON result on the last line of stdout."""

import importlib
import json
import os
import resource
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    import django

    django.setup()
    module_name, function_name = sys.argv[1].split(":")
    args = json.loads(sys.argv[2]) if len(sys.argv) > 2 else []
    value = getattr(importlib.import_module(module_name), function_name)(*args)
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
    report = {"value": value, "peak_rss_mb": round(peak_rss_mb, 1)}
    sys.stdout.write("\n" + json.dumps(report, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
