"""`python -m bench.report [RESULTS.json …]`: writes the result tables of the given runs into
docs/benchmarks.md (between its `results` markers) and draws docs/benchmarks-chart.svg, the p95
latencies at the largest scale: ours, the raw baseline and DjangoCRM, on a logarithmic axis."""

from __future__ import annotations

import json
import math
import sys
from html import escape
from pathlib import Path

from bench.common import REPO
from bench.run import _fmt, label

DOC = REPO / "docs" / "benchmarks.md"
CHART = REPO / "docs" / "benchmarks-chart.svg"
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def tables(runs: list[dict]) -> str:
    out = []
    for run in runs:
        machine, versions = run["machine"], run["database_versions"]
        scales = ", ".join(label(s) for s in run["scales"])
        out.append(f"### Run {scales} — {run['started_at']} (commit {run.get('git_commit', '?')})\n")
        out.append(
            f"{machine['cores']} cores ({machine['cpu']}), {machine['memory_gb']} GB, Python {machine['python']}; "
            + ", ".join(f"{k} {v}" for k, v in versions.items())
            + (f"; wall time per database and scale: {', '.join(f'{k} {v:.0f} s' for k, v in run.get('seconds', {}).items())}" if run.get("seconds") else "")
            + "\n"
        )
        if run.get("failed_runs"):
            out.append(f"Runs that failed: {run['failed_runs']}\n")
        results = run["results"]
        for case in dict.fromkeys(r["case"] for r in results):
            out.append(f"\n#### {case}\n")
            out.append("| database | scale | metric | ours | baseline | ours ÷ baseline | target | note |")
            out.append("|---|---|---|---:|---:|---:|---|---|")
            for r in (r for r in results if r["case"] == case):
                out.append(
                    f"| {r['database']} | {label(r['scale'])} | {r['metric']} | {_fmt(r['ours'])} {r['unit']} | "
                    f"{_fmt(r['baseline'])} | {_fmt(r['ratio'])} | {r['target'] or ''} | {(r['note'] or '').replace('|', '/')} |"
                )
        out.append("")
    return "\n".join(out)


def chart_rows(runs: list[dict]) -> list[tuple[str, list[tuple[str, float]]]]:
    """(label, [(series, ms)]) for every p95 latency at the largest scale measured."""
    results = [r for run in runs for r in run["results"]]
    if not results:
        return []
    top = max(r["scale"] for r in results)
    rows = []
    for r in results:
        if r["scale"] != top or r["unit"] != "ms" or not r["metric"].endswith("p95") or not r["ours"]:
            continue
        series = [("zhidu", r["ours"])]
        if r["baseline"]:
            series.append(("DjangoCRM" if r["case"] == "djangocrm" else "baseline", r["baseline"]))
        rows.append((f"{r['database']} {r['case']}: {r['metric'].removesuffix(' p95')}", series))
    return rows


COLOURS = {"zhidu": "#c0392b", "baseline": "#7f8c8d", "DjangoCRM": "#2c3e50"}


def chart_svg(rows: list[tuple[str, list[tuple[str, float]]]], title: str) -> str:
    bar, gap, left, width = 9, 8, 360, 420
    values = [v for _label, series in rows for _s, v in series if v > 0]
    low = 10 ** math.floor(math.log10(min(values))) if values else 0.1
    high = 10 ** math.ceil(math.log10(max(values))) if values else 1000

    def x(v):
        return left + width * (math.log10(max(v, low)) - math.log10(low)) / (math.log10(high) - math.log10(low))

    height = 60 + sum(len(s) * bar + gap for _l, s in rows) + 30
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 40}" height="{height}" font-family="sans-serif" font-size="11">',
        f'<text x="10" y="20" font-size="14" font-weight="bold">{escape(title)}</text>',
    ]
    legend_x = left
    for name, colour in COLOURS.items():
        parts.append(f'<rect x="{legend_x}" y="30" width="10" height="10" fill="{colour}"/><text x="{legend_x + 14}" y="39">{name}</text>')
        legend_x += 90
    y = 55
    for text, series in rows:
        parts.append(f'<text x="{left - 6}" y="{y + bar * len(series) / 2 + 4}" text-anchor="end">{escape(text)}</text>')
        for name, value in series:
            parts.append(f'<rect x="{left}" y="{y}" width="{max(1, x(value) - left):.1f}" height="{bar - 1}" fill="{COLOURS[name]}"/>')
            parts.append(f'<text x="{x(value) + 3:.1f}" y="{y + bar - 1}" font-size="9">{value:g} ms</text>')
            y += bar
        y += gap
    decade = low
    while decade <= high:
        parts.append(f'<line x1="{x(decade):.1f}" y1="50" x2="{x(decade):.1f}" y2="{y}" stroke="#ddd"/>')
        parts.append(f'<text x="{x(decade):.1f}" y="{y + 14}" text-anchor="middle">{decade:g} ms</text>')
        decade *= 10
    parts.append("</svg>")
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    paths = [Path(p) for p in argv] or sorted((REPO / "bench" / "results").glob("*.json"))
    runs = [json.loads(p.read_text()) for p in paths]
    doc = DOC.read_text()
    if BEGIN not in doc or END not in doc:
        raise SystemExit(f"{DOC} has no {BEGIN} … {END} markers")
    head, rest = doc.split(BEGIN, 1)
    _old, tail = rest.split(END, 1)
    DOC.write_text(f"{head}{BEGIN}\n{tables(runs)}\n{END}{tail}")
    rows = chart_rows(runs)
    if rows:
        top = max(r["scale"] for run in runs for r in run["results"])
        CHART.write_text(chart_svg(rows, f"p95 latency at {label(top)} customers (log scale; lower is better)"))
    print(f"wrote {DOC.relative_to(REPO)}" + (f" and {CHART.relative_to(REPO)}" if rows else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
