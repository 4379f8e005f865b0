"""`python -m bench.run --scales 10k,100k --databases sqlite,postgresql [--cases …]` (make bench,
make bench-full): a fresh database per (database, scale), the suite run in its own process, every
table printed with our figure, the baseline of the same run and the ratio, and the whole run written to
bench/results/ as JSON with the machine's cores, memory and database versions."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from bench.common import BENCH_VAR, REPO, machine_info

RESULTS = REPO / "bench" / "results"
POSTGRES = os.environ.get("ZHIDU_BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")


def parse_scale(text: str) -> int:
    text = text.strip().lower()
    for suffix, factor in (("m", 1_000_000), ("k", 1000)):
        if text.endswith(suffix):
            return int(float(text[: -len(suffix)]) * factor)
    return int(text)


def label(n: int) -> str:
    return f"{n // 1_000_000}m" if n % 1_000_000 == 0 else f"{n // 1000}k" if n % 1000 == 0 else str(n)


def _psql(sql: str, database: str = "postgres") -> str:
    import psycopg

    with psycopg.connect(f"{POSTGRES}/{database}", autocommit=True) as conn:
        cursor = conn.execute(sql)
        row = cursor.fetchone() if cursor.description else None
        return row[0] if row else ""


def fresh_database(database: str, scale: int, reuse: bool) -> tuple[str, Path]:
    var_dir = BENCH_VAR / f"{database}-{label(scale)}"
    if database == "sqlite":
        if not reuse and var_dir.exists():
            shutil.rmtree(var_dir)
        var_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{var_dir / 'zhidu.sqlite3'}", var_dir
    name = f"zhidu_bench_{label(scale)}"
    var_dir.mkdir(parents=True, exist_ok=True)
    if not reuse:
        _psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        shutil.rmtree(var_dir)
        var_dir.mkdir(parents=True)
    if not _psql(f"SELECT datname FROM pg_database WHERE datname = '{name}'"):
        _psql(f"CREATE DATABASE {name}")
    return f"{POSTGRES}/{name}", var_dir


def database_versions(databases: list[str]) -> dict:
    versions = {}
    if "sqlite" in databases:
        versions["sqlite"] = sqlite3.sqlite_version
    if "postgresql" in databases:
        versions["postgresql"] = _psql("SHOW server_version")
    return versions


def print_tables(results: list[dict]) -> None:
    cases = list(dict.fromkeys(r["case"] for r in results))
    for case in cases:
        rows = [r for r in results if r["case"] == case]
        print(f"\n## {case}\n")
        print("| database | scale | metric | ours | baseline | ratio | target | note |")
        print("|---|---|---|---|---|---|---|---|")
        for r in rows:
            print(
                f"| {r['database']} | {label(r['scale'])} | {r['metric']} | {_fmt(r['ours'])} {r['unit']} | "
                f"{_fmt(r['baseline'])} | {_fmt(r['ratio'])} | {r['target'] or ''} | {r['note'] or ''} |"
            )


def _fmt(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and value.is_integer() and abs(value) >= 100:
        return f"{int(value):,}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.run")
    parser.add_argument("--scales", default="10k,100k")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--cases", default="", help="comma-separated case names (default: all)")
    parser.add_argument("--reuse", action="store_true", help="keep the databases of an earlier run (development)")
    parser.add_argument("--name", default="", help="name of the results file (default: the scales)")
    args = parser.parse_args(argv)
    scales = [parse_scale(s) for s in args.scales.split(",") if s]
    databases = [d for d in args.databases.split(",") if d]
    started = dt.datetime.now(dt.UTC)
    run = {
        "started_at": started.isoformat(timespec="seconds"),
        "scales": scales,
        "machine": machine_info(),
        "database_versions": database_versions(databases),
        "git_commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip(),
        "results": [],
        "failed_runs": [],
    }
    print(f"zhidu benchmarks: {run['machine']['cores']} cores, {run['machine']['memory_gb']} GB, {run['database_versions']}", flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out_path = RESULTS / f"{args.name or '-'.join(label(s) for s in scales)}.json"
    for database in databases:
        for scale in scales:
            url, var_dir = fresh_database(database, scale, args.reuse)
            fragment = var_dir / "results.json"
            fragment.unlink(missing_ok=True)
            env = dict(os.environ, DATABASE_URL=url, ZHIDU_VAR_DIR=str(var_dir), DJANGO_SETTINGS_MODULE="bench.settings",
                       PYTHONPATH=os.pathsep.join(p for p in [str(REPO), os.environ.get("PYTHONPATH", "")] if p))  # fmt: skip
            command = [sys.executable, "-m", "bench.suite", "--database", database, "--scale", str(scale), "--out", str(fragment)]
            if args.cases:
                command += ["--cases", args.cases]
            print(f"\n# {database}, {label(scale)} customers", flush=True)
            start = time.perf_counter()
            code = subprocess.run(command, cwd=REPO, env=env).returncode
            if code:
                run["failed_runs"].append({"database": database, "scale": scale, "exit_code": code})
            if fragment.exists():
                run["results"].extend(json.loads(fragment.read_text()))
            run.setdefault("seconds", {})[f"{database}-{label(scale)}"] = round(time.perf_counter() - start, 1)
            out_path.write_text(json.dumps(run, ensure_ascii=False, indent=1))
    run["finished_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    out_path.write_text(json.dumps(run, ensure_ascii=False, indent=1))
    print_tables(run["results"])
    print(f"\nresults: {out_path.relative_to(REPO)}  ({(dt.datetime.now(dt.UTC) - started).total_seconds():.0f} s)")
    return 1 if run["failed_runs"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
