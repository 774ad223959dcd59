"""Inventory of the curated data: per-dataset counts and lint findings.

Run ``python benchmarks/data_inventory.py [SHARED_DATA_DIR]``; prints a Markdown table with,
for each of the Shedding Hub datasets and each adapter folder, the number of subjects,
observations, censored observations, skipped records (and the reconciliation with the source
count for Shedding Hub), then the lint findings per rule.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import yaml

from immunetwin.data import ADAPTERS, Dataset, lint, read_adapter, read_shedding_hub

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data"


def _row(name: str, ds: Dataset, source: int | None, counts: dict[str, int]) -> str:
    n, k = len(ds.observations), len(ds.skipped)
    cens = sum(o.censored for o in ds.observations)
    rec = "" if source is None else ("ok" if n + k == source else f"MISMATCH {source}")
    findings = ", ".join(f"{r} {c}" for r, c in sorted(counts.items())) or "-"
    return f"| {name} | {len(ds.subjects)} | {n} | {cens} | {k} | {rec} | {findings} |"


def main(shared: Path = DEFAULT) -> int:
    """Print the inventory; return 1 if a dataset does not reconcile."""
    print(
        "| dataset | subjects | observations | censored | skipped | loaded+skipped = source | lint |"
    )
    print("|---|---:|---:|---:|---:|---|---|")
    total: Counter[str] = Counter()
    per_rule: Counter[str] = Counter()
    datasets_with: Counter[str] = Counter()
    bad = 0
    for path in sorted((shared / "shedding-hub" / "datasets").glob("*.yaml")):
        ds = read_shedding_hub(path)
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
        source = sum(len(p["measurements"]) for p in doc["participants"])
        counts = lint(ds).counts()
        bad += len(ds.observations) + len(ds.skipped) != source
        print(_row(path.stem, ds, source, counts))
        total.update(
            subjects=len(ds.subjects),
            observations=len(ds.observations),
            censored=sum(o.censored for o in ds.observations),
            skipped=len(ds.skipped),
            source=source,
            datasets=1,
        )
        per_rule.update(counts)
        datasets_with.update(counts.keys())
    print(
        f"| **Shedding Hub total ({total['datasets']})** | {total['subjects']} | {total['observations']} | "
        f"{total['censored']} | {total['skipped']} | {total['source']} measurements | |"
    )
    for folder in ADAPTERS:
        if (shared / folder).exists():
            ds = read_adapter(shared / folder)
            counts = lint(ds).counts()
            print(_row(f"{folder} (adapter)", ds, None, counts))
            per_rule.update(counts)
            datasets_with.update(counts.keys())
    print("\nLint findings (all datasets): rule: findings (datasets)")
    for rule, n in sorted(per_rule.items()):
        print(f"- {rule}: {n} ({datasets_with[rule]})")
    reasons: Counter[str] = Counter()
    for path in sorted((shared / "shedding-hub" / "datasets").glob("*.yaml")):
        reasons.update(s.reason for s in read_shedding_hub(path).skipped)
    print(
        "\nShedding Hub skipped records by reason: "
        + ", ".join(f"{r}: {c}" for r, c in reasons.items())
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT))
