"""A save killed at a random moment never loses the twin: it loads at its old or new version."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from twinhelpers import ANALYTE

from immunetwin.twin import DigitalTwin, build_twin, read_twin_info

SAVER = textwrap.dedent(
    """
    import sys
    from immunetwin.twin import DigitalTwin

    twin = DigitalTwin.load(sys.argv[1])
    print("ready", flush=True)
    while True:
        twin.save(sys.argv[1], keep=3)
    """
)


@pytest.mark.slow
def test_killed_saves_never_lose_the_twin(ke_data, tmp_path):
    d = tmp_path / "tw"
    build_twin(
        ke_data, "ke2022_sarscov2", subject="p1", analytes=[ANALYTE], cutoff_day=3.0, particles=20
    ).save(d)
    script = tmp_path / "saver.py"
    script.write_text(SAVER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    rng = np.random.default_rng(0)
    versions = set()
    for _ in range(20):
        proc = subprocess.Popen(
            [sys.executable, str(script), str(d)], stdout=subprocess.PIPE, env=env, text=True
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        time.sleep(float(rng.uniform(0.0, 0.5)))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        info = read_twin_info(d)  # every file's checksum verified
        versions.add(info.version)
        assert DigitalTwin.load(d).subject == "p1"
    assert len(versions) > 1  # the kills did land while saves were being made
    # a folder of a killed save is left only until the next save cleans it up
    DigitalTwin.load(d).save(d, keep=3)
    assert not [p for p in Path(d, "versions").iterdir() if p.name.startswith(".tmp")]
