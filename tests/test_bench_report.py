"""The benchmark report writes every result with its baseline and ratio into the document, between its
markers and nowhere else, and draws the p95 chart of the largest scale."""

import json

from bench import report


def _run(results):
    return {
        "started_at": "2026-11-24T00:00:00+00:00", "scales": [1_000_000], "git_commit": "abc1234",
        "machine": {"cores": 2, "cpu": "x86", "memory_gb": 23.5, "python": "3.13.0"},
        "database_versions": {"sqlite": "3.40.1"}, "results": results, "seconds": {"sqlite-1m": 100.0},
    }  # fmt: skip


def _result(case, metric, ours, baseline, scale=1_000_000):
    return {"database": "sqlite", "scale": scale, "case": case, "metric": metric, "unit": "ms", "ours": ours,
            "baseline": baseline, "ratio": round(ours / baseline, 3), "better": "lower", "target": "p95 ≤ 50 ms", "note": ""}  # fmt: skip


def test_tables_between_the_markers_and_a_chart(tmp_path, monkeypatch):
    doc, chart = tmp_path / "benchmarks.md", tmp_path / "chart.svg"
    doc.write_text(f"# head\n{report.BEGIN}\nold table\n{report.END}\n## tail kept\n")
    monkeypatch.setattr(report, "DOC", doc)
    monkeypatch.setattr(report, "CHART", chart)
    results = [_result("search", "name substring p95", 12.5, 10.0), _result("djangocrm", "company list p95", 20.0, 900.0),
               _result("search", "name substring p95", 3.0, 2.0, scale=10_000)]  # fmt: skip
    path = tmp_path / "1m.json"
    path.write_text(json.dumps(_run(results)))
    monkeypatch.setattr(report, "REPO", tmp_path)
    report.main([str(path)])
    text = doc.read_text()
    assert "old table" not in text and text.startswith("# head") and text.endswith("## tail kept\n")
    assert "| sqlite | 1m | name substring p95 | 12.5 ms | 10.0 | 1.25 | p95 ≤ 50 ms |" in text
    assert "| sqlite | 10k | name substring p95 | 3.0 ms | 2.0 | 1.5 |" in text
    svg = chart.read_text()
    assert "sqlite search: name substring" in svg and "DjangoCRM" in svg and "900 ms" in svg
    assert "10k" not in svg  # only the largest scale is drawn
