"""Two commits' whole stack, run by run in turn: the A/B every performance table is read from.

On a shared 2-core machine a run's figures drift by 10–40 % within minutes, so "before"
and "after" are only comparable when their runs alternate and their medians are taken
over the same stretch of time. This checks both commits out as git worktrees, then for
each round runs `bench.bench_stack` once per commit (each a fresh launcher as `make run`
starts it), and prints per load the median events/s, p99, total in calibration turns and
CPU µs per event of every process, with the ratio after/before of the totals.

    .venv/bin/python -m bench.interleave 1404e0d            # 1404e0d against HEAD
    .venv/bin/python -m bench.interleave 1404e0d 1022c90 --rounds 3 --bus kafka \\
        --loads burst,singles --scale 0.3

Each commit's code runs from its worktree through `PYTHONPATH` (its libs, services and
tools ahead of the editable installs), in this checkout's virtual environment: commits
whose locked dependencies differ are not compared fairly. The calibration turn is each
commit's own decode, fold and dump: when the change under test touches those, its
"turns" move with the code, not the machine — read the CPU totals then. Prints figures;
asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
Runs = dict[str, list[dict]]


def _worktree(rev: str, into: Path) -> tuple[Path, str]:
    """A detached worktree of `rev` and the PYTHONPATH that makes its code the one imported."""
    path = into / rev.replace("/", "_")
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-f", str(path), rev],
                   check=True, capture_output=True)
    members = sorted(p.parent for p in path.glob("*/*/pyproject.toml"))
    return path, os.pathsep.join([*map(str, members), str(path)])


def _run(path: Path, pythonpath: str, args: argparse.Namespace, summary: Path) -> list[dict]:
    """One `bench_stack` run of the worktree at `path`; its summary rows."""
    summary.write_text("")
    env = {**os.environ, "PYTHONPATH": pythonpath, "BENCH_SUMMARY": str(summary),
           "BENCH_SCALE": str(args.scale), "BENCH_REPEATS": "1", "BENCH_BUS": args.bus,
           "BENCH_STACK_LOADS": args.loads}
    done = subprocess.run([sys.executable, "-m", "bench.bench_stack"], cwd=path, env=env,
                          capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(f"bench_stack failed in {path}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return [json.loads(line) for line in summary.read_text().splitlines() if line.strip()]


def _median_row(rows: list[dict]) -> dict[str, float]:
    keys = {k for r in rows for k in r["cpu_us"]}
    out = {f"cpu {k}": statistics.median(r["cpu_us"].get(k, 0.0) for r in rows) for k in keys}
    for field in ("events_per_s", "p99_ms", "calibration_turns"):
        out[field] = statistics.median(r.get(field, 0.0) for r in rows)
    return out


def report(runs: dict[str, Runs], revs: tuple[str, str]) -> None:
    """Per load: the medians of each commit, and after/before of the total."""
    paths = sorted({path for by_path in runs.values() for path in by_path})
    for path in paths:
        medians = {rev: _median_row(runs[rev][path]) for rev in revs}
        procs = sorted({k for m in medians.values() for k in m if k.startswith("cpu ") and k != "cpu total"})
        head = ["commit", "runs", "events/s", "p99 ms", "turns", *(p[4:] for p in procs), "total"]
        print(f"\n{path} (medians; CPU µs per event)")
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for rev in revs:
            m = medians[rev]
            cells = [rev, str(len(runs[rev][path])), f"{m['events_per_s']:,.0f}", f"{m['p99_ms']:.1f}",
                     f"{m['calibration_turns']:.1f}", *(f"{m.get(p, 0.0):,.0f}" for p in procs),
                     f"{m['cpu total']:,.0f}"]
            print("| " + " | ".join(cells) + " |")
        before, after = (medians[rev] for rev in revs)
        print(f"after/before: total {after['cpu total'] / before['cpu total']:.3f}, "
              f"calibration turns {after['calibration_turns'] / max(before['calibration_turns'], 1e-9):.3f}, "
              f"events/s {after['events_per_s'] / before['events_per_s']:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before")
    parser.add_argument("after", nargs="?", default="HEAD")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--bus", default="redis", choices=["redis", "kafka"])
    parser.add_argument("--loads", default="burst,singles,topic")
    parser.add_argument("--scale", type=float, default=0.3)
    args = parser.parse_args()
    revs = (args.before, args.after)
    if args.before == args.after:
        parser.error("give two different commits")
    with tempfile.TemporaryDirectory(prefix="lifeline-interleave-") as tmp:
        trees = {rev: _worktree(rev, Path(tmp)) for rev in revs}
        runs: dict[str, Runs] = {rev: {} for rev in revs}
        try:
            for round_no in range(1, args.rounds + 1):
                for rev in revs:
                    print(f"round {round_no}/{args.rounds}: {rev}", flush=True)
                    for row in _run(*trees[rev], args, Path(tmp) / "summary.jsonl"):
                        runs[rev].setdefault(row["path"], []).append(row)
        finally:
            for path, _ in trees.values():
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(path)],
                               capture_output=True)
        report(runs, revs)


if __name__ == "__main__":
    main()
