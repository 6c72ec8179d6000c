"""Where the fonts of the documents are: Thai from Debian's ``fonts-thai-tlwg``, Lao from
``fonts-lao``, found by path so a document looks the same on every machine of a city."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Final

_TLWG: Final = Path("/usr/share/fonts/truetype/tlwg")
_LAO: Final = Path("/usr/share/fonts/truetype/lao")
# TrueType first: fpdf2 embeds TTF outlines as they are.
THAI_CANDIDATES: Final = (
    (_TLWG / "Garuda.ttf", _TLWG / "Garuda-Bold.ttf"),
    (_TLWG / "Loma.ttf", _TLWG / "Loma-Bold.ttf"),
    (_TLWG / "Sarabun.ttf", _TLWG / "Sarabun-Bold.ttf"),
    (_TLWG / "Garuda.otf", _TLWG / "Garuda-Bold.otf"),
)
# Phetsarath, the Lao government's font, comes in one weight only.
LAO_CANDIDATES: Final = (
    (_LAO / "Phetsarath_OT.ttf", _LAO / "Phetsarath_OT.ttf"),
    (_LAO / "Phetsarath-Regular.ttf", _LAO / "Phetsarath-Bold.ttf"),
)


class FontMissing(RuntimeError):
    """No font for a script the documents are written in is installed."""


@dataclass(frozen=True, slots=True)
class Face:
    """A font family's files: the regular weight and the bold one (the same file where
    the family has no bold)."""

    family: str
    regular: Path
    bold: Path


@cache
def thai_face() -> Face:
    """Thai, with Latin letters and digits (the TLWG fonts have both)."""
    return _first_installed("thai", THAI_CANDIDATES, "fonts-thai-tlwg")


@cache
def lao_face() -> Face:
    return _first_installed("lao", LAO_CANDIDATES, "fonts-lao")


def _first_installed(family: str, candidates: Sequence[tuple[Path, Path]], package: str
                     ) -> Face:
    for regular, bold in candidates:
        if regular.is_file():
            return Face(family, regular, bold if bold.is_file() else regular)
    looked = ", ".join(str(regular) for regular, _ in candidates)
    raise FontMissing(f"No {family.capitalize()} font is installed (looked for {looked}); "
                      f"install Debian's {package} package (apt-get install {package})")
