"""The synonym matcher against the truth table of ``tests/domain/test_equivalence_truth_table.py``:
every pair with the relation a careful trader assigns (equivalent / implies / implied_by / disjoint /
unrelated), what the matcher accepts alone (proven) and what it proposes to a person (candidates),
then the precision and recall of each.

    python bench/matcher_truth_table.py [--only wrong|accepted|proposed]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "domain")]

from test_equivalence_truth_table import CASES, judge, report  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", choices=("wrong", "accepted", "proposed"), help="only these rows (figures: all rows)")
    args = ap.parse_args()
    judged = [judge(c) for c in CASES]
    lines = report(judged).splitlines()
    rows, figures = lines[1:-2], lines[-2:]
    keep = {"wrong": lambda j: (j.accepted and not j.accepted_right) or (j.proposed and not j.proposed_right),
            "accepted": lambda j: bool(j.accepted), "proposed": lambda j: bool(j.proposed)}.get(args.only or "")
    print(lines[0])
    for j, row in zip(judged, rows, strict=True):
        if keep is None or keep(j):
            print(row)
            if args.only:
                print(f"    {j.case.why}")
    print("\n".join(figures))


if __name__ == "__main__":
    main()
