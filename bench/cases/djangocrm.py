"""Side by side with DjangoCRM (django-crm-admin from PyPI): the same companies and contacts loaded into
both, both served by gunicorn with 2 × cores workers on PostgreSQL, the same HTTP client signed in to
each, and the company list and company search pages a user of each would open, timed request by
request (p50/p95) with the same search terms.

DjangoCRM's user-facing pages are its "CRM site" (an admin site under /<lang>/123/): the company list
is its changelist /en/123/crm/company/ and its search box is the changelist's ?q=, which matches with
icontains against name, website, phone, city, address, e-mail, description, registration number and
alternative names. Ours are /customers/ and /customers/?q=.

DjangoCRM lives in its own virtualenv bench/var/djangocrm/venv (never committed) with the settings
override bench/djangocrm_support/djangocrm_settings.py and its own database zhidu_bench_djangocrm_<scale>,
which is kept between runs while it holds the same generated data set."""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from bench.cases.http import free_port, login, server, zhidu_server
from bench.common import BENCH_VAR, REPO, percentiles

HOME = BENCH_VAR / "djangocrm"
VENV = HOME / "venv"
SUPPORT = REPO / "bench" / "djangocrm_support"
PACKAGE = "django-crm-admin==3.1.0"
# Its wheel pins mysqlclient (a C build against MySQL's headers) although we use its PostgreSQL engine;
# its admin imports Pillow without requiring it. The rest of its pins are installed as they are.
NOT_INSTALLED = {"mysqlclient"}
EXTRA = ["pillow", "gunicorn", "psycopg[binary]"]
CRM = "/en/123"
LOGIN = CRM + "/789-login/"
COMPANIES = CRM + "/crm/company/"
USERNAME = "bench_admin"
MIN_SCALE = 100_000  # compared at 100k and 1M customers
REQUESTS = 100
# Stop a series early after this long (DjangoCRM's search at 1M); at least MIN_REQUESTS are timed.
SERIES_SECONDS = float(os.environ.get("ZHIDU_BENCH_DJANGOCRM_SECONDS", "45"))
MIN_REQUESTS = 20
TARGET = "≥ 5× faster (ratio ≤ 0.2)"


def run(ctx) -> None:
    if ctx.database != "postgresql":
        print("    djangocrm  skipped: DjangoCRM is measured on PostgreSQL only (its documented production database)", flush=True)
        return
    if ctx.scale < MIN_SCALE:
        print(f"    djangocrm  skipped below {MIN_SCALE:,} customers: the comparison is made at 100k and 1M", flush=True)
        return
    from bench import datagen

    ctx.ensure_customers()
    csv_path = datagen.csv_file(ctx.scale, ctx.seed)
    python = ensure_venv()
    env = crm_env(ctx)
    ensure_database(ctx, python, env, csv_path)
    queries = search_terms(csv_path, ctx.seed)
    workers = 2 * (os.cpu_count() or 1)

    from django.db import connection

    connection.close()
    # DjangoCRM first: a series of its may stop early (SERIES_SECONDS); ours then gets exactly the same
    # requests, search terms and order included.
    port = free_port()
    crm_base = f"http://127.0.0.1:{port}"
    gunicorn = [str(VENV / "bin" / "gunicorn"), "webcrm.wsgi:application", "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
                "--timeout", "300", "--log-level", "warning"]  # fmt: skip
    with server(gunicorn, env, crm_base + LOGIN, run_dir(), ctx.var_dir / "djangocrm-gunicorn.log"):
        session = login(crm_base, LOGIN, USERNAME, datagen.BENCH_PASSWORD, success_path=COMPANIES)
        _check(session, crm_base + COMPANIES, queries)
        theirs_list = series(session, crm_base + COMPANIES, [None] * REQUESTS)
        theirs_search = series(session, crm_base + COMPANIES, queries)
    with zhidu_server(ctx) as (base, _master):
        session = login(base, "/login/", ctx.users["admin"].username, datagen.BENCH_PASSWORD)
        _check(session, f"{base}/customers/", queries)
        ours_list = series(session, f"{base}/customers/", [None] * len(theirs_list), stop=False)
        ours_search = series(session, f"{base}/customers/", queries[: len(theirs_search)], stop=False)

    note = (f"same client (requests, sequential), both gunicorn × {workers} workers on PostgreSQL, signed in as an "
            f"administrator who sees every company; baseline: DjangoCRM {PACKAGE.split('==')[1]} ({COMPANIES}; its pinned "
            f"requirements without mysqlclient, plus Pillow)")  # fmt: skip
    for metric, ours, theirs in (("company list page", ours_list, theirs_list), ("company search ?q=", ours_search, theirs_search)):
        mine, base = percentiles(ours), percentiles(theirs)
        for point in ("p50", "p95"):
            ctx.result("djangocrm", f"{metric} {point}", mine[point], base[point], target=TARGET if point == "p95" else None,
                       note=f"{note}; {len(ours)} vs {len(theirs)} requests")  # fmt: skip


# ---------------------------------------------------------------------------------------------------


def ensure_venv() -> Path:
    """DjangoCRM's virtualenv, created once: its wheel without dependencies, then its pinned
    requirements but mysqlclient, plus Pillow, gunicorn and psycopg."""
    python = VENV / "bin" / "python"
    marker = VENV / "zhidu-bench.json"
    if python.exists() and marker.exists() and json.loads(marker.read_text()).get("package") == PACKAGE:
        return python
    print(f"    djangocrm  installing {PACKAGE} into {VENV.relative_to(REPO)} …", flush=True)
    if VENV.exists():
        shutil.rmtree(VENV)
    HOME.mkdir(parents=True, exist_ok=True)
    base_python = getattr(sys, "_base_executable", None) or sys.executable
    subprocess.run([base_python, "-m", "venv", str(VENV)], check=True)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([str(python), "-m", "pip", "download", "--quiet", "--no-deps", "--dest", tmp, PACKAGE], check=True)
        wheel = next(Path(tmp).glob("*.whl"))
        requirements = _requirements(wheel)
        subprocess.run([*pip, "--no-deps", str(wheel)], check=True)
    wanted = [r for r in requirements if r.split("==")[0].strip().lower() not in NOT_INSTALLED]
    subprocess.run([*pip, *wanted, *EXTRA], check=True)
    marker.write_text(json.dumps({"package": PACKAGE, "left_out": sorted(NOT_INSTALLED), "extra": EXTRA}))
    return python


def _requirements(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as z:
        metadata = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        lines = z.read(metadata).decode().splitlines()
    return [line.split(":", 1)[1].strip() for line in lines if line.startswith("Requires-Dist:") and "extra ==" not in line]


def database_name(ctx) -> str:
    from bench.datagen import scale_label

    return os.environ.get("ZHIDU_BENCH_DJANGOCRM_DB") or f"zhidu_bench_djangocrm_{scale_label(ctx.scale)}"


def run_dir() -> Path:
    """DjangoCRM's working directory: not the repository, whose tests/ package would shadow its own."""
    path = HOME / "run"
    path.mkdir(parents=True, exist_ok=True)
    return path


def crm_env(ctx) -> dict:
    from django.conf import settings

    db = settings.DATABASES["default"]
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "PYTHONPATH") and not k.startswith("ZHIDU_")}
    env.update(
        DJANGO_SETTINGS_MODULE="djangocrm_settings",
        PYTHONPATH=str(SUPPORT),
        DJANGOCRM_VAR_DIR=str(HOME / database_name(ctx)),
        DJANGOCRM_DB_NAME=database_name(ctx),
        DJANGOCRM_DB_HOST=db.get("HOST") or "127.0.0.1",
        DJANGOCRM_DB_PORT=str(db.get("PORT") or 5432),
        DJANGOCRM_DB_USER=db.get("USER") or "postgres",
        DJANGOCRM_DB_PASSWORD=db.get("PASSWORD") or "",
    )
    return env


def _admin_sql(env: dict, sql: str) -> object:
    import psycopg

    dsn = f"host={env['DJANGOCRM_DB_HOST']} port={env['DJANGOCRM_DB_PORT']} user={env['DJANGOCRM_DB_USER']} dbname=postgres"
    if env["DJANGOCRM_DB_PASSWORD"]:
        dsn += f" password={env['DJANGOCRM_DB_PASSWORD']}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        cursor = conn.execute(sql)
        return cursor.fetchone() if cursor.description else None


def ensure_database(ctx, python: Path, env: dict, csv_path: Path) -> None:
    """DjangoCRM's database with its initial data (its `setupdata`: migrate and fixtures), our
    administrator as its superuser, and the companies and contacts of `csv_path` — rebuilt unless the
    marker says it already holds exactly this data set."""
    name = database_name(ctx)
    stat = csv_path.stat()
    wanted = {"package": PACKAGE, "csv": csv_path.name, "size": stat.st_size, "scale": ctx.scale,
              "loader": hashlib.sha256((SUPPORT / "load.py").read_bytes()).hexdigest()[:16]}  # fmt: skip
    marker = HOME / f"{name}.json"
    exists = _admin_sql(env, f"SELECT 1 FROM pg_database WHERE datname = '{name}'")
    if exists and marker.exists() and json.loads(marker.read_text()) == wanted:
        return
    marker.unlink(missing_ok=True)
    _admin_sql(env, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    _admin_sql(env, f"CREATE DATABASE {name}")
    Path(env["DJANGOCRM_VAR_DIR"]).mkdir(parents=True, exist_ok=True)
    print(f"    djangocrm  setting up {name} (its migrations and initial data) …", flush=True)
    _run(python, ["-m", "django", "setupdata"], env)
    print(f"    djangocrm  loading {ctx.scale} companies and their contacts with bulk_create …", flush=True)
    from bench.datagen import BENCH_PASSWORD

    out = _run(python, [str(SUPPORT / "load.py"), str(csv_path), USERNAME, BENCH_PASSWORD], env)
    report = json.loads([line for line in out.splitlines() if line.startswith("{")][-1])
    if report["companies"] != ctx.scale:
        raise RuntimeError(f"DjangoCRM holds {report['companies']} companies, not {ctx.scale}")
    print(f"    djangocrm  loaded {report['companies']} companies, {report['contacts']} contacts in {report['seconds']} s", flush=True)
    _run(python, ["-m", "django", "shell", "-c", "from django.db import connection; connection.cursor().execute('VACUUM ANALYZE')"], env)
    marker.write_text(json.dumps(wanted))


def _run(python: Path, args: list[str], env: dict) -> str:
    done = subprocess.run([str(python), *args], env=env, cwd=run_dir(), capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"DjangoCRM {' '.join(args[:3])} failed: {done.stderr[-3000:]}")
    return done.stdout


def search_terms(csv_path: Path, seed: int, count: int = REQUESTS) -> list[str]:
    """The same search terms for both: a third whole company names, a third the first four characters
    of a name (city and trade name: many matches), a third a contact's full phone number (DjangoCRM
    holds it as the company's phone too). Sampled over the whole file."""
    import csv

    rng = random.Random(seed)
    picked: list[dict] = []
    with open(csv_path, newline="", encoding="utf-8-sig") as f:
        for index, row in enumerate(csv.DictReader(f)):
            if len(picked) < count:
                picked.append(row)
            else:
                slot = rng.randrange(index + 1)
                if slot < count:
                    picked[slot] = row
    rng.shuffle(picked)
    terms = []
    for i, row in enumerate(picked):
        kind = i % 3
        terms.append(row["名称"] if kind == 0 else row["名称"][:4] if kind == 1 else row["电话"])
    return terms


def _check(session, url: str, queries: list[str]) -> None:
    """The pages answer 200 and a whole-name search finds that company."""
    name = queries[0]
    answer = session.get(url, params={"q": name}, allow_redirects=False, timeout=600)
    if answer.status_code != 200 or name not in answer.text:
        raise RuntimeError(f"searching {url} for {name!r} did not find it (HTTP {answer.status_code})")


def series(session, url: str, queries: list[str | None], stop: bool = True) -> list[float]:
    """Milliseconds per request, sequentially, after 3 warm-up requests; with `stop`, ends after
    SERIES_SECONDS once MIN_REQUESTS are timed."""
    def get(q):
        answer = session.get(url, params={"q": q} if q else None, allow_redirects=False, timeout=600)
        if answer.status_code != 200:
            raise RuntimeError(f"GET {url} q={q!r}: HTTP {answer.status_code}")
        return answer

    for q in queries[:3]:
        get(q)
    samples = []
    started = time.perf_counter()
    for q in queries:
        start = time.perf_counter()
        get(q)
        samples.append((time.perf_counter() - start) * 1000)
        if stop and len(samples) >= MIN_REQUESTS and time.perf_counter() - started > SERIES_SECONDS:
            break
    return samples
