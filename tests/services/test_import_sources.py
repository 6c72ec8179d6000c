"""Reading files for ``mor import``: a collection Bundle is streamed an entry at a time, in
constant memory, whatever the order of its keys; a broken file gives what came before the
error."""

from __future__ import annotations

import tracemalloc
from pathlib import Path
from typing import Any

import orjson
import pytest

from mor.services.import_sources import InputFile, Item


def _patient(number: int) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": f"vte-{number}", "gender": "female",
            "name": [{"family": "ສີສະຫວາດ", "given": [f"ຄຳ {number}"]}]}


def _bundle(entries: list[Any], bundle_type: str = "collection", *,
            type_after_entries: bool = False) -> bytes:
    head = b'{"resourceType": "Bundle", "id": "b1", '
    kind = b'"type": ' + orjson.dumps(bundle_type)
    entry = b'"entry": ' + orjson.dumps(entries)
    return head + (entry + b", " + kind if type_after_entries else kind + b", " + entry) + b"}"


def _read(path: Path, start: int = 0) -> tuple[list[Item], list[tuple[str, str]]]:
    rejected: list[tuple[str, str]] = []
    items = list(InputFile(path).items(lambda where, reason: rejected.append((where, reason)),
                                       start))
    return items, rejected


@pytest.mark.parametrize("type_after_entries", [False, True])
@pytest.mark.parametrize("bundle_type", ["collection", "searchset"])
def test_a_bundle_of_entries_is_read_one_entry_at_a_time(
    tmp_path: Path, bundle_type: str, type_after_entries: bool,
) -> None:
    file = tmp_path / "bundle.json"
    file.write_bytes(_bundle([{"fullUrl": "urn:uuid:1", "resource": _patient(0)},
                              {"fullUrl": "urn:uuid:no-resource"},
                              {"resource": _patient(2), "search": {"mode": "match"}}],
                             bundle_type, type_after_entries=type_after_entries))
    items, rejected = _read(file)
    assert rejected == []
    assert [(item.where, item.resource, item.position) for item in items] == [
        (f"{file} entry 0", _patient(0), 1),
        (f"{file} entry 2", _patient(2), 3),  # an entry without a resource is passed over
    ]


def test_numbers_come_out_as_orjson_reads_them(tmp_path: Path) -> None:
    observation = {"resourceType": "Observation", "status": "final",
                   "code": {"text": "weight"}}
    text = (b'{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": '
            + orjson.dumps(observation)[:-1]
            + b', "valueQuantity": {"value": 1.50, "unit": "kg"}, "component": [1, -0.0, 1e2,'
              b' 0.1, 2.5E-3, 9007199254740993, 1.7976931348623157e308]}}]}')
    file = tmp_path / "numbers.json"
    file.write_bytes(text)
    items, _ = _read(file)
    expected = orjson.loads(text)["entry"][0]["resource"]
    # Serialised, so 1.0 and 1 (float and int) differ.
    assert orjson.dumps(items[0].resource) == orjson.dumps(expected)


def test_transaction_bundles_and_single_resources_are_one_item_each(tmp_path: Path) -> None:
    transaction = tmp_path / "transaction.json"
    transaction.write_bytes(_bundle([{"resource": _patient(1), "request": {
        "method": "PUT", "url": "Patient/vte-1"}}], "transaction", type_after_entries=True))
    single = tmp_path / "patient.json"
    single.write_bytes(orjson.dumps(_patient(1)))
    for file in (transaction, single):
        items, rejected = _read(file)
        assert rejected == []
        assert [(item.where, item.resource, item.position) for item in items] == [
            (str(file), orjson.loads(file.read_bytes()), None)]


def test_a_bundle_broken_halfway_gives_the_entries_before_the_error(tmp_path: Path) -> None:
    whole = _bundle([{"resource": _patient(n)} for n in range(3)])
    file = tmp_path / "truncated.json"
    file.write_bytes(whole[: whole.index(b'"vte-2"')])  # cut in the middle of the third
    items, rejected = _read(file)
    assert [item.resource for item in items] == [_patient(0), _patient(1)]
    assert len(rejected) == 1
    where, reason = rejected[0]
    assert where == str(file)
    assert reason.startswith(f"not valid JSON before byte {file.stat().st_size:,}: ")
    assert "premature EOF" in reason and "(after 2 entries)" in reason


def test_a_file_that_is_not_json_is_rejected_with_the_position(tmp_path: Path) -> None:
    file = tmp_path / "broken.json"
    file.write_bytes(b'{"resourceType": "Bundle", "type": collection}')
    items, rejected = _read(file)
    assert items == []
    assert rejected == [(str(file), "not valid JSON before byte 46: "
                                    "lexical error: invalid char in json text.")]


def test_ndjson_is_read_a_line_at_a_time_and_resumes_at_a_byte_offset(tmp_path: Path) -> None:
    lines = [orjson.dumps(_patient(n)) + b"\n" for n in range(4)]
    file = tmp_path / "patients.ndjson"
    file.write_bytes(lines[0] + b"\n" + b"{broken\n" + b"".join(lines[1:]))
    items, rejected = _read(file)
    assert [(item.where, item.position) for item in items] == [
        (f"{file}:1", len(lines[0])),
        (f"{file}:4", len(lines[0]) + 9 + len(lines[1])),
        (f"{file}:5", len(lines[0]) + 9 + len(lines[1]) + len(lines[2])),
        (f"{file}:6", file.stat().st_size),
    ]
    assert [where for where, _ in rejected] == [f"{file}:3"]
    resumed, _ = _read(file, start=items[1].position or 0)
    assert resumed == items[2:]  # line numbers stay true


def test_reading_resumes_after_the_entries_already_imported(tmp_path: Path) -> None:
    file = tmp_path / "bundle.json"
    file.write_bytes(_bundle([{"resource": _patient(n)} for n in range(5)],
                             type_after_entries=True))
    items, _ = _read(file, start=3)
    assert [(item.where, item.position) for item in items] == [
        (f"{file} entry 3", 4), (f"{file} entry 4", 5)]
    assert InputFile(file).describe(3) == "entry 3"
    assert InputFile(tmp_path / "p.ndjson").describe(4096) == "byte 4,096"


def _peak_memory_reading(file: Path) -> int:
    source = InputFile(file)
    tracemalloc.start()
    try:
        count = sum(1 for _ in source.items(lambda where, reason: None))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert source.bytes_read == file.stat().st_size
    assert count == len(orjson.loads(file.read_bytes())["entry"])
    return peak


def test_a_large_bundle_is_read_in_constant_memory(tmp_path: Path) -> None:
    files = {}
    for count in (2_000, 20_000):
        files[count] = tmp_path / f"{count}.json"
        files[count].write_bytes(_bundle([{"fullUrl": f"urn:uuid:{n}", "resource": _patient(n)}
                                          for n in range(count)], type_after_entries=True))
    small, large = _peak_memory_reading(files[2_000]), _peak_memory_reading(files[20_000])
    size = files[20_000].stat().st_size
    # What is held is the entries of one 64 KiB read buffer, however long the file: ten
    # times the entries take no more memory, and far less than the file's size.
    assert large < small * 1.25, f"{small:,} bytes for 2,000 entries, {large:,} for 20,000"
    assert large < size / 4, f"peak {large:,} bytes for a file of {size:,}"
