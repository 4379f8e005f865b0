"""What every benchmark case uses: the run's context, timers, percentiles, child processes whose peak
memory is measured, and the result records the report is made of."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH_VAR = REPO / "bench" / "var"
DATA_DIR = BENCH_VAR / "data"
SEED = 20261124


@dataclass
class Context:
    database: str  # "sqlite" | "postgresql"
    database_url: str
    scale: int
    var_dir: Path
    seed: int = SEED
    data_dir: Path = DATA_DIR
    results: list[dict] = field(default_factory=list)
    _users: dict | None = None

    @property
    def python(self) -> str:
        return sys.executable

    def env(self) -> dict:
        env = dict(os.environ)
        env.update(
            DATABASE_URL=self.database_url,
            ZHIDU_VAR_DIR=str(self.var_dir),
            DJANGO_SETTINGS_MODULE="bench.settings",
            PYTHONPATH=os.pathsep.join(p for p in [str(REPO), env.get("PYTHONPATH", "")] if p),
            ZHIDU_BENCH_SCALE=str(self.scale),
            ZHIDU_BENCH_SEED=str(self.seed),
        )
        return env

    @property
    def users(self) -> dict:
        """"admin": every permission, scope all, top clearance; "dept": department scope (one of ten
        sales departments); "owner": a sales owner of that department (own scope)."""
        if self._users is None:
            from bench import datagen

            self._users = datagen.bench_users()
        return self._users

    def ensure_customers(self) -> None:
        from bench import datagen

        datagen.ensure_customers(self)

    def result(self, case: str, metric: str, ours: float, baseline: float | None = None, *, unit: str = "ms",
               better: str = "lower", target: str | None = None, note: str = "") -> dict:
        ratio = (ours / baseline) if baseline else None
        record = {
            "database": self.database, "scale": self.scale, "case": case, "metric": metric, "unit": unit,
            "ours": _round(ours), "baseline": _round(baseline), "ratio": _round(ratio, 3), "better": better,
            "target": target, "note": note,
        }
        self.results.append(record)
        shown = f"{record['ours']} {unit}" + (f"  baseline {record['baseline']}  ×{record['ratio']}" if baseline else "")
        print(f"    {case:10} {metric:42} {shown}", flush=True)
        return record

    def child(self, func_path: str, *args, timeout: float | None = None) -> tuple[object, float]:
        """Runs `module:function(*args)` in a fresh Python process with this run's environment.
        Returns the function's (JSON) value and the child's own peak resident memory in MB."""
        command = [self.python, "-m", "bench.child", func_path, json.dumps(list(args), default=str)]
        done = subprocess.run(command, cwd=REPO, env=self.env(), stdout=subprocess.PIPE, text=True, timeout=timeout)
        if done.returncode:
            raise RuntimeError(f"{func_path} failed with exit code {done.returncode}")
        lines = [line for line in done.stdout.splitlines() if line.strip()]
        report = json.loads(lines[-1])
        return report["value"], report["peak_rss_mb"]


def percentiles(samples: list[float]) -> dict:
    ordered = sorted(samples)
    if not ordered:
        return {"p50": None, "p95": None, "p99": None}

    def at(q):
        index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
        return ordered[index]

    return {"p50": at(0.50), "p95": at(0.95), "p99": at(0.99), "mean": statistics.fmean(ordered)}


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    value = fn(*args, **kwargs)
    return time.perf_counter() - start, value


def latencies(fn, inputs, warmup: int = 5) -> list[float]:
    inputs = list(inputs)
    for x in inputs[:warmup]:
        fn(x)
    samples = []
    for x in inputs:
        start = time.perf_counter()
        fn(x)
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def latency_results(ctx: Context, case: str, metric: str, ours: list[float], baseline: list[float] | None, *,
                    target_p95: float | None = None, note: str = "", points=("p50", "p95", "p99")) -> None:
    """One result per percentile: ours and the baseline's at the same percentile."""
    mine, base = percentiles(ours), percentiles(baseline) if baseline else None
    for point in points:
        target = f"p95 ≤ {target_p95:g} ms" if (target_p95 and point == "p95") else None
        ctx.result(case, f"{metric} {point}", mine[point], base[point] if base else None, target=target, note=note)


def _round(value, digits: int = 2):
    if value is None:
        return None
    if abs(value) >= 100:
        return round(value, 1)
    return round(value, digits)


def machine_info() -> dict:
    import platform

    memory_kb = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                memory_kb = int(line.split()[1])
    cpu = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cores": os.cpu_count(),
        "memory_gb": round(memory_kb / 1024 / 1024, 1),
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
