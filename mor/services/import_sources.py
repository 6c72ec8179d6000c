"""Turning the files given to ``mor import`` into items: one resource each, with where it
came from and where an interrupted import resumes after it.

Reading takes constant memory however large the file, except where a whole file is one
item anyway:

- NDJSON (``.ndjson``, ``.jsonl``) is read a line at a time.
- A collection or searchset Bundle is streamed with ijson, one entry at a time; its
  ``type`` may come before or after ``entry``.
- Any other JSON file is one item, read whole: a single resource, or a transaction or
  batch Bundle (processed as one transaction, so held in memory by nature).

Numbers come out as orjson (and so the FHIR API) reads them: integers as ``int``, any
other number as ``float`` (``1.50`` is ``1.5``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import ijson
import orjson

# The C parser bundled in ijson's wheels; the pure-Python fallback is ~50 times slower.
_json = ijson.get_backend("yajl2_c")

# Told each line or file that cannot be read: where (as in Item.where) and why.
Reject = Callable[[str, str], None]


@dataclass(frozen=True, slots=True)
class Item:
    """One JSON value read from a file, to be written as a resource."""

    # For a person: "patients.ndjson:12", "bundle.json entry 3" or "patient.json".
    where: str
    # The parsed JSON value; whether it is a valid resource is checked when it is written.
    resource: Any
    # Where an import resumes once this item is committed: for NDJSON the byte offset just
    # after its line, for a streamed Bundle the number of entries up to and including this
    # one. None for a whole-file item, after which there is nothing to resume.
    position: int | None = None


class InputFile:
    """One file to import, read as items, counting the bytes read for a progress bar."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.is_ndjson = path.suffix in (".ndjson", ".jsonl")
        # Bytes read so far: for a streamed Bundle up to 64 KiB ahead of the last item.
        self.bytes_read = 0

    def describe(self, position: int) -> str:
        """A resume position (see Item.position) for a person: "byte 1,024", "entry 7"."""
        return f"byte {position:,}" if self.is_ndjson else f"entry {position:,}"

    def items(self, reject: Reject, start: int = 0) -> Iterator[Item]:
        """The items from resume position ``start`` on (0: the whole file)."""
        if self.is_ndjson:
            return self._lines(reject, start)
        return self._json(reject, start)

    def _lines(self, reject: Reject, start: int) -> Iterator[Item]:
        with self.path.open("rb") as lines:
            # Line numbers in rejections stay true when resuming mid-file.
            number = _count_lines(lines, start)
            self.bytes_read = start
            for line in lines:
                number += 1
                self.bytes_read += len(line)
                if not line.strip():
                    continue
                where = f"{self.path}:{number}"
                try:
                    yield Item(where, orjson.loads(line), self.bytes_read)
                except orjson.JSONDecodeError as error:
                    reject(where, f"not valid JSON: {error}")

    def _json(self, reject: Reject, start: int) -> Iterator[Item]:
        try:
            streamed = self._top_level("resourceType") == "Bundle" and self._top_level(
                "type") in ("collection", "searchset")
        except ijson.JSONError as error:
            reject(str(self.path), self._not_json(error))
            return
        if streamed:
            yield from self._entries(reject, start)
            return
        try:
            data = orjson.loads(self.path.read_bytes())
        except orjson.JSONDecodeError as error:
            reject(str(self.path), f"not valid JSON: {error}")
            return
        self.bytes_read = self.path.stat().st_size
        yield Item(str(self.path), data)

    def _top_level(self, key: str) -> Any:
        """The value of a key of the file's top-level object (None if absent), read without
        building anything else: instant when the key comes first, a quick scan of the whole
        file when it comes after the entries."""
        with self._open() as stream:
            return next(_json.items(stream, key, use_float=True), None)

    def _entries(self, reject: Reject, start: int) -> Iterator[Item]:
        read = 0  # entries read so far
        with self._open() as stream:
            try:
                # Skipped entries are still parsed (a file has no index of where each entry
                # starts): building them in C and dropping them is faster than skipping the
                # parser's events one by one in Python.
                for index, entry in enumerate(_json.items(stream, "entry.item", use_float=True)):
                    read = index + 1
                    if index >= start and isinstance(entry, dict) and "resource" in entry:
                        yield Item(f"{self.path} entry {index}", entry["resource"], read)
            except ijson.JSONError as error:
                reject(str(self.path), f"{self._not_json(error)} (after {read:,} entries)")

    def _open(self) -> _CountingReader:
        self.bytes_read = 0
        return _CountingReader(self.path.open("rb"), self)

    def _not_json(self, error: ijson.JSONError) -> str:
        # yajl's message is a line of text (sometimes bytes) and a picture of the context.
        message = error.args[0] if error.args else ""
        if isinstance(message, bytes):
            message = message.decode(errors="replace")
        return f"not valid JSON before byte {self.bytes_read:,}: {str(message).splitlines()[0]}"


def _count_lines(file: BinaryIO, size: int) -> int:
    """The line ends in the next ``size`` bytes of ``file``, read a MiB at a time."""
    count = 0
    while size > 0 and (block := file.read(min(size, 1 << 20))):
        count += block.count(b"\n")
        size -= len(block)
    return count


class _CountingReader:
    """A binary file that adds what is read from it to ``InputFile.bytes_read``."""

    def __init__(self, file: BinaryIO, counter: InputFile) -> None:
        self.file = file
        self.counter = counter

    def read(self, size: int = -1) -> bytes:
        data = self.file.read(size)
        self.counter.bytes_read += len(data)
        return data

    def __enter__(self) -> _CountingReader:
        return self

    def __exit__(self, *_: object) -> None:
        self.file.close()
