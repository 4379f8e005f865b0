"""`python -m bench.child module:function [JSON args]`: runs one benchmark step in a fresh process (so
its peak memory is its own) and prints the function's JSON result on the last line of stdout."""

import importlib
import json
import os
import resource
import sys


def peak_rss_mb() -> float:
    """This process's own peak resident memory. Not getrusage's ru_maxrss: Linux carries that across
    exec, so a child started by a large parent reports the parent's peak. VmHWM belongs to the address
    space exec created."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    import django

    django.setup()
    module_name, function_name = sys.argv[1].split(":")
    args = json.loads(sys.argv[2]) if len(sys.argv) > 2 else []
    value = getattr(importlib.import_module(module_name), function_name)(*args)
    report = {"value": value, "peak_rss_mb": round(peak_rss_mb(), 1)}
    sys.stdout.write("\n" + json.dumps(report, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
