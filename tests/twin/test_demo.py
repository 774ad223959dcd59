"""The README demo (reduced setting): its report holds the forecast figure and the what-if table."""

from __future__ import annotations

from immunetwin.demo import run_demo
from immunetwin.twin import DigitalTwin, read_twin_info


def test_demo_report(tmp_path):
    res = run_demo(tmp_path, particles=150, population_subjects=3, show_progress=False)
    html = res.report.read_text()
    assert 'id="fig-forecast"' in html
    assert 'id="whatif-table"' in html
    assert "antiviral day 4" in html and "antiviral day 7" in html
    back = DigitalTwin.load(res.twin_dir)
    assert [h.step for h in back.history] == ["calibrate", "update"]
    assert read_twin_info(res.twin_dir).n_updates == 1
