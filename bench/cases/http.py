"""HTTP throughput of the production server (`zhidu serve`: gunicorn, 2 × cores workers) on loopback,
measured with wrk: the customer detail API (bearer token) and the customer list page (session cookie)
of a department-scoped user, spread over many customer ids, against a minimal Django view on the same
server. Every response must be a 200, counted by the wrk script itself (wrk's own report counts a
redirect to the login page as a success)."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from bench.common import REPO

WRK_THREADS = 2
WRK_CONNECTIONS = 8  # two per worker on 2 cores: every worker busy, little queueing in the listen backlog
WARMUP_SECONDS = 2
# Throughput hardly depends on the table size (every request reads one file or one page), so `make bench`
# measures it once per database, at 100k, with shorter windows than at 1M, to stay within ten minutes.
MIN_SCALE = 100_000
FULL_SCALE = 1_000_000


def measure_seconds(scale: int) -> int:
    return int(os.environ.get("ZHIDU_BENCH_HTTP_SECONDS") or (8 if scale >= FULL_SCALE else 5))
IDS_IN_SCRIPT = 2000
TARGET_DETAIL_RPS = 1000

# wrk script: requests spread over a table of paths, one header set, every status counted per thread
# and summed in done(), which prints one JSON line.
_LUA = r"""
local paths = {%(paths)s}
local headers = {%(headers)s}
local threads = {}
local counter = 0

function setup(thread)
  thread:set("offset", #threads * 7919)
  table.insert(threads, thread)
end

function init(args)
  ok = 0
  bad = 0
  last_bad = 0
  counter = offset or 0
end

function request()
  counter = counter + 1
  return wrk.format("GET", paths[(counter %% #paths) + 1], headers)
end

function response(status, hdrs, body)
  if status == 200 then
    ok = ok + 1
  else
    bad = bad + 1
    last_bad = status
  end
end

function done(summary, latency, requests)
  local ok_total, bad_total, last = 0, 0, 0
  for _, t in ipairs(threads) do
    ok_total = ok_total + t:get("ok")
    bad_total = bad_total + t:get("bad")
    if t:get("last_bad") ~= 0 then last = t:get("last_bad") end
  end
  local e = summary.errors
  io.write(string.format(
    'ZHIDU_WRK {"requests": %%d, "duration_us": %%d, "ok": %%d, "bad": %%d, "last_bad_status": %%d, ' ..
    '"p50_us": %%d, "p90_us": %%d, "p99_us": %%d, "max_us": %%d, ' ..
    '"errors": {"connect": %%d, "read": %%d, "write": %%d, "status": %%d, "timeout": %%d}}\n',
    summary.requests, summary.duration, ok_total, bad_total, last,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def _lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def wrk(base_url: str, paths: list[str], headers: dict[str, str], seconds: int, connections: int = WRK_CONNECTIONS) -> dict:
    """Runs wrk against base_url over `paths`; returns req/s, latency percentiles (ms) and status
    counts. Raises when any response was not a 200 or any socket error happened."""
    script = _LUA % {
        "paths": ", ".join(_lua_string(p) for p in paths),
        "headers": ", ".join(f"[{_lua_string(k)}] = {_lua_string(v)}" for k, v in headers.items()),
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    try:
        command = ["wrk", "--latency", "-t", str(WRK_THREADS), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "30s", "-s", f.name, base_url]
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    finally:
        os.unlink(f.name)
    line = next((x for x in done.stdout.splitlines() if x.startswith("ZHIDU_WRK ")), None)
    if done.returncode or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout[-2000:]} {done.stderr[-2000:]}")
    raw = json.loads(line.removeprefix("ZHIDU_WRK "))
    errors = {k: v for k, v in raw["errors"].items() if v}
    if raw["bad"] or errors or not raw["ok"]:
        raise RuntimeError(
            f"{base_url}{paths[0]}…: {raw['bad']} of {raw['requests']} responses were not 200 (last {raw['last_bad_status']}), socket errors {errors}"
        )
    return {
        "rps": raw["requests"] / (raw["duration_us"] / 1e6),
        "requests": raw["requests"],
        "p50": raw["p50_us"] / 1000,
        "p90": raw["p90_us"] / 1000,
        "p99": raw["p99_us"] / 1000,
        "max": raw["max_us"] / 1000,
    }


# ---------------------------------------------------------------------------------------------------
# Servers and clients shared with the DjangoCRM comparison.


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, timeout: float = 60, log: Path | None = None) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text()[-3000:] if log and log.exists() else ""
            raise RuntimeError(f"the server exited with {process.returncode} before answering: {tail}")
        try:
            requests.get(url, timeout=10, allow_redirects=False)
            return
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.2)
    raise RuntimeError(f"the server did not answer {url} within {timeout:g} s")


@contextmanager
def server(command: list[str], env: dict, probe_url: str, cwd: Path, log: Path):
    """A server process (its own process group) that is up on entry and stopped, with all its
    workers, on exit."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until_up(probe_url, process, log=log)
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def login(base_url: str, login_path: str, username: str, password: str, cookie: str = "sessionid", success_path: str | None = None):
    """A requests.Session signed in through the site's own login form (CSRF token included)."""
    import requests

    session = requests.Session()
    page = session.get(base_url + login_path, timeout=30)
    page.raise_for_status()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    if token is None:
        raise RuntimeError(f"no CSRF token in {login_path}")
    answer = session.post(
        base_url + login_path,
        data={"csrfmiddlewaretoken": token.group(1), "username": username, "password": password, "next": success_path or "/"},
        headers={"Referer": base_url + login_path},
        allow_redirects=False,
        timeout=30,
    )
    if answer.status_code != 302 or cookie not in session.cookies:
        raise RuntimeError(f"logging in as {username} at {login_path} failed: HTTP {answer.status_code}")
    return session


def _get_ok(session, url: str, **kwargs):
    answer = session.get(url, allow_redirects=False, timeout=60, **kwargs)
    if answer.status_code != 200:
        raise RuntimeError(f"GET {url}: HTTP {answer.status_code}")
    return answer


# ---------------------------------------------------------------------------------------------------
# zhidu's production server.


def serve_command(port: int, workers: int | None = None) -> list[str]:
    """`zhidu serve` itself, on a port of our choosing (workers: its default of 2 × cores)."""
    command = [sys.executable, "-m", "zhidu.cli", "serve", "--bind", f"127.0.0.1:{port}"]
    if workers:
        command += ["--workers", str(workers)]
    return command


@contextmanager
def zhidu_server(ctx, workers: int | None = None):
    """`zhidu serve` with the run's environment on a free loopback port; yields the base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with server(serve_command(port, workers), ctx.env(), base + "/bench/minimal/", REPO, ctx.var_dir / "http-serve.log") as process:
        yield base, process.pid


def cpu_seconds(master_pid: int) -> float:
    """CPU time (user + system) used so far by the children (the gunicorn workers) of `master_pid`."""
    total = 0
    try:
        children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    except OSError:
        return 0.0
    for pid in children:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / os.sysconf("SC_CLK_TCK")


def readable_ids(user, count: int, seed: int) -> list[int]:
    """Up to `count` ids of customers `user` may read, spread over the whole scope."""
    from zhidu.customers.selectors import customers_visible

    ids = list(customers_visible(user).order_by().values_list("pk", flat=True))
    random.Random(seed).shuffle(ids)
    return sorted(ids[:count])


def run(ctx) -> None:
    if ctx.scale < MIN_SCALE:
        print(f"    http       skipped below {MIN_SCALE:,} customers: throughput is measured at 100k and 1M", flush=True)
        return
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed (Debian: apt-get install wrk)")
    from django.db import connection

    from zhidu.org.tokens import token_create

    ctx.ensure_customers()
    user = ctx.users["dept"]
    from bench.datagen import BENCH_PASSWORD

    ids = readable_ids(user, IDS_IN_SCRIPT, ctx.seed)
    if len(ids) < 10:
        raise RuntimeError(f"{user.username} can read only {len(ids)} customers")
    token = token_create(user, name="bench-http")
    connection.close()  # the server's workers get the database to themselves
    workers = 2 * (os.cpu_count() or 1)
    seconds = measure_seconds(ctx.scale)
    with zhidu_server(ctx) as (base, master):
        session = login(base, "/login/", user.username, BENCH_PASSWORD)
        cookie = f"sessionid={session.cookies['sessionid']}"
        api = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        # Correct answers first: the detail is the file asked for, the list page is the list.
        detail = _get_ok(session, f"{base}/api/v1/customers/{ids[0]}", headers=api).json()
        if detail.get("id") != ids[0]:
            raise RuntimeError(f"the detail API answered {detail!r:.200}")
        if "/customers/" not in _get_ok(session, f"{base}/customers/").text:
            raise RuntimeError("the customer list page does not look like one")
        _get_ok(session, f"{base}/bench/minimal/")

        cases = [
            ("minimal view, anonymous", ["/bench/minimal/"], {}),
            ("customer detail API", [f"/api/v1/customers/{i}" for i in ids], api),
            ("minimal view, signed in", ["/bench/minimal/"], {"Cookie": cookie}),
            ("customer list page", ["/customers/"], {"Cookie": cookie}),
        ]
        measured = {}
        for name, paths, headers in cases:
            wrk(base, paths, headers, seconds=WARMUP_SECONDS)
            cpu = cpu_seconds(master)
            measured[name] = m = wrk(base, paths, headers, seconds=seconds)
            m["cpu_ms"] = (cpu_seconds(master) - cpu) * 1000 / m["requests"]
            print(f"    http       {name}: {m['rps']:.0f} req/s, p50 {m['p50']:.1f} ms, p99 {m['p99']:.1f} ms, "
                  f"{m['cpu_ms']:.2f} ms worker CPU per request ({m['requests']} requests)", flush=True)
    note = f"zhidu serve ({workers} gunicorn workers), wrk -t{WRK_THREADS} -c{WRK_CONNECTIONS} -d{seconds}s on loopback, user {user.username} (department scope)"
    for name in ("minimal view, anonymous", "minimal view, signed in"):
        ctx.result("http", f"{name} req/s", measured[name]["rps"], unit="req/s", better="higher", note=note if "anon" in name else "the session is saved on every request")
        ctx.result("http", f"{name} p99", measured[name]["p99"])
        ctx.result("http", f"{name} worker CPU per request", measured[name]["cpu_ms"], note="user + system time of the gunicorn workers / requests")
    for name, baseline, extra in (
        ("customer detail API", "minimal view, anonymous", f"bearer token, {len(ids)} customer ids"),
        ("customer list page", "minimal view, signed in", "session cookie, first page"),
    ):
        m, b = measured[name], measured[baseline]
        target = f"≥ {TARGET_DETAIL_RPS} req/s" if name == "customer detail API" else None
        ctx.result("http", f"{name} req/s", m["rps"], b["rps"], unit="req/s", better="higher", target=target, note=f"{extra}; baseline: the {baseline}")
        ctx.result("http", f"{name} p99", m["p99"], b["p99"], note=f"baseline: the {baseline}")
        ctx.result("http", f"{name} worker CPU per request", m["cpu_ms"], b["cpu_ms"], note="user + system time of the gunicorn workers / requests")
