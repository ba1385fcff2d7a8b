"""Run the benchmarks for two commits in one run, alternating, so their figures compare.

    .venv/bin/python bench/compare_refs.py BEFORE AFTER [--rounds 1] [--full]

Each commit is unpacked (``git archive``) into a directory of its own and every bench script
runs from there with that directory first on ``PYTHONPATH``, so it measures that commit's code
with this checkout's virtual environment. Scripts run before, after, before, after … for
``--rounds`` rounds; a script missing from a commit is skipped for it. Without ``--full`` each
script gets smaller sizes (a few minutes in all); ``--full`` runs ``make bench``'s defaults.
The figures to compare are the ones each script prints; docs/BENCHMARKS.md records them.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Smaller sizes per script for a quick comparison; ``--full`` uses each script's defaults.
QUICK_ARGS: dict[str, list[str]] = {
    "classifier_bench.py": ["--runs", "3"],
    "drip_bench.py": (
        "--sizes 10000 --big 100000 --dispatch 2000 --repeat 3 --slow-dispatch 300".split()
    ),
    "webhook_bench.py": ["--rate", "50", "--seconds", "20", "--repeat", "1", "--skip-ratio"],
    "reply_bench.py": ["--lessons", "500"],
    "admin_bench.py": ["--people", "2000"],
}


def unpack(ref: str, into: Path) -> Path:
    """The tree of ``ref`` written under ``into``; returns its directory."""
    sha = subprocess.check_output(["git", "-C", str(ROOT), "rev-parse", ref], text=True).strip()
    target = into / sha[:10]
    archive = subprocess.check_output(["git", "-C", str(ROOT), "archive", "--format=tar", sha])
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target


def run(tree: Path, script: str, extra: list[str]) -> int:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tree), str(tree / "bench")])}
    started = time.monotonic()
    status = subprocess.call(
        [sys.executable, str(tree / "bench" / script), *extra], cwd=tree, env=env
    )
    print(f"   ({time.monotonic() - started:.0f} s, exit {status})", flush=True)
    return status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--full", action="store_true", help="each script's own default sizes")
    parser.add_argument("--only", nargs="+", help="script names to run (default: all)")
    args = parser.parse_args()
    failed = 0
    with tempfile.TemporaryDirectory(prefix="dripper-bench-") as tmp:
        trees = {
            name: unpack(ref, Path(tmp))
            for name, ref in (("before", args.before), ("after", args.after))
        }
        scripts = sorted(
            {p.name for tree in trees.values() for p in (tree / "bench").glob("*_bench.py")}
        )
        if args.only:
            scripts = [s for s in scripts if s in args.only]
        for script in scripts:
            for round_ in range(1, args.rounds + 1):
                for name, tree in trees.items():
                    if not (tree / "bench" / script).exists():
                        print(f"== {script} [{name}]: not in this commit", flush=True)
                        continue
                    print(f"== {script} [{name} {tree.name}] round {round_}", flush=True)
                    extra = [] if args.full else QUICK_ARGS.get(script, [])
                    failed |= run(tree, script, extra) != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
