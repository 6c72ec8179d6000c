"""Benchmark: ICD-10 search as you type (mor.services.terminology.search), in memory.

The index over all 12,246 recordable WHO ICD-10 2019 codes is built once on first use;
then each query, as a clinician types it, is searched repeatedly and timed.

    .venv/bin/python bench/icd10_search.py [--repeat 200] [--record]

Target: an answer well within typing speed: p95 ≤ 10 ms for each query on this machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fhir_crud import _commit, _machine, publish

from mor.services.terminology import search

QUERIES = [("h", "en"), ("hy", "en"), ("hyperten", "en"), ("type 2 diab", "en"),
           ("unspecified complication", "en"), ("e11", "en"), ("j06.9", "en"),
           ("ความ", "th"), ("ความดันโลหิตสูง", "th"), ("ເບົາຫວານ", "lo"), ("zz", "lo")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--record", action="store_true",
                        help="append the results to bench/RESULTS.md")
    args = parser.parse_args()
    started = time.perf_counter()
    search("a")
    build = time.perf_counter() - started
    rows = []
    for query, language in QUERIES:
        times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            found = search(query, language)
            times.append((time.perf_counter() - started) * 1000)
        ordered = sorted(times)
        rows.append(f"| `{query}` ({language}) | {len(found)} | "
                    f"{statistics.median(times):.2f} ms | "
                    f"{ordered[int(0.95 * len(ordered)) - 1]:.2f} ms | {max(times):.2f} ms |")
    command = "python bench/icd10_search.py " + " ".join(sys.argv[1:])
    section = "\n".join([
        f"\n## {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}, mor {_commit()}: "
        "ICD-10 search as you type",
        "", f"- machine: {_machine()}", f"- command: `{command.strip()}`",
        f"- measured: building the in-memory index once ({build:.2f} s), then each query "
        f"{args.repeat} times (up to 20 answers)",
        "- target: p95 ≤ 10 ms per query", "",
        "| query | answers | p50 | p95 | max |", "| --- | --- | --- | --- | --- |",
        *rows, ""])
    publish(section, args.record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
