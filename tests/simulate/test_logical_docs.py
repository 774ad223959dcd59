"""The worked bridge example in docs/logical.md runs and its assertions hold."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "logical.md"


def test_bridge_example_runs() -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    example = next(b for b in blocks if "PhenotypeCoupling" in b)
    namespace: dict[str, object] = {}
    exec(compile(example, str(DOC), "exec"), namespace)
    plateau = namespace["plateau"]
    assert isinstance(plateau, dict) and plateau[1] > plateau[0]
