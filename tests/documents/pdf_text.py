"""The text a person reads in a PDF, as pypdf extracts it, made comparable."""

from __future__ import annotations

import io
import re
import unicodedata
from typing import Final

from pypdf import PdfReader

_INVISIBLE: Final = re.compile(r"[\s\u200b-\u200d\u2060\ufeff]")
# Shaping draws Thai sara am (ำ) and Lao am (ຳ) as two glyphs when a tone mark sits
# above; the second has no character of its own, and pypdf gives its glyph number back
# as a stray character right after the vowel.
_STRAY_AFTER_AM: Final = re.compile(r"([\u0e33\u0eb3])[^\u0e00-\u0eff]")


def readable(text: str) -> str:
    """Without spaces and zero-width characters, which pypdf puts where the PDF's
    layout suggests (between the clusters of a shaped word too), not where they are."""
    text = _STRAY_AFTER_AM.sub(r"\1", unicodedata.normalize("NFC", text))
    return _INVISIBLE.sub("", text)


def pdf_text(data: bytes) -> str:
    """Every page's text, made readable."""
    reader = PdfReader(io.BytesIO(data))
    return readable("".join(page.extract_text() for page in reader.pages))


def page_count(data: bytes) -> int:
    return len(PdfReader(io.BytesIO(data)).pages)
