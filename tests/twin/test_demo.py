"""The README demo (reduced setting): its report holds the forecast figure and the what-if table."""

from __future__ import annotations

from immunetwin.demo import run_demo


def test_demo_report(tmp_path):
    res = run_demo(tmp_path, particles=150, population_subjects=3, show_progress=False)
    html = res.report.read_text()
    assert 'id="fig-forecast"' in html
    assert 'id="whatif-table"' in html
    assert "antiviral day 4" in html and "antiviral day 7" in html
    assert (res.twin_dir / "twin.json").exists()
    assert [
        h["step"]
        for h in __import__("json").loads((res.twin_dir / "twin.json").read_text())["history"]
    ] == [
        "calibrate",
        "update",
    ]
