"""The table at the end of `make bench`: every bench's events/s and CPU µs per event.

Each bench appends its rows with `bench.cpu.record`; `make bench` empties the file
first and runs this last. Columns are the processes that showed up in any row.
"""

from __future__ import annotations

import json

from bench.cpu import SUMMARY_FILE


def main() -> None:
    if not SUMMARY_FILE.exists():
        print("no bench recorded CPU per event")
        return
    rows = [json.loads(line) for line in SUMMARY_FILE.read_text().splitlines() if line.strip()]
    procs = sorted({p for r in rows for p in r["cpu_us"] if p != "total"})
    head = ["bench", "path", "events/s", "p50 ms", "p99 ms", *procs, "total"]
    print("\nCPU µs per event (user+system of each process tree over the burst / events)")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        cpu = r["cpu_us"]
        cells = [r["bench"], r["path"], f"{r['events_per_s']:,.0f}",
                 f"{r['p50_ms']:.1f}" if "p50_ms" in r else "", f"{r['p99_ms']:.1f}" if "p99_ms" in r else "",
                 *(f"{cpu[p]:,.0f}" if p in cpu else "" for p in procs), f"{cpu['total']:,.0f}"]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
