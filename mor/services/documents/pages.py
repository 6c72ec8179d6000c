"""The page every document is drawn on: fonts for its language, shaped text, the health
centre's letterhead, and the few kinds of line a document has (a heading, a labelled
value, a paragraph)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from typing import Final

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from mor.services.documents.fonts import Face, FontMissing, lao_face, thai_face
from mor.services.documents.model import Centre
from mor.services.documents.texts import label

A4: Final = "A4"
_BODY: Final = 11
_LINE: Final = 6.0  # mm, for the body size


class Page:
    """One document being drawn, in ``language``; text in another script (a Lao name on
    a Thai prescription) is drawn in that script's font."""

    def __init__(self, language: str, title: str, *, made: date,
                 size: str | tuple[float, float] = A4, margin: float = 18) -> None:
        self.language = language
        self.pdf = FPDF(format=size)
        self.pdf.set_margins(margin, margin, margin)
        self.pdf.set_auto_page_break(True, margin)
        main, other = (lao_face, thai_face) if language == "lo" else (thai_face, lao_face)
        self._family = _add(self.pdf, main())
        try:
            fallback = [_add(self.pdf, other())]
        except FontMissing:
            fallback = []  # the document's own script is what it cannot do without
        self.pdf.set_fallback_fonts(fallback, exact_match=False)
        # Thai and Lao marks stack above and below their consonants: only a shaping
        # engine (HarfBuzz) places them right.
        self.pdf.set_text_shaping(True)
        self.pdf.set_lang(language)
        self.pdf.set_title(title)
        self.pdf.set_creator("mor")
        # The date of the visit, not of the drawing: the same visit gives the same bytes.
        self.pdf.set_creation_date(datetime.combine(made, time(), UTC))
        self.pdf.add_page()
        self.pdf.set_font(self._family, size=_BODY)

    @property
    def width(self) -> float:
        return float(self.pdf.epw)

    def letterhead(self, centre: Centre) -> None:
        self._text(centre.name, size=15, bold=True)
        if centre.address:
            self._text(centre.address, size=_BODY - 1)
        if centre.phone:
            self._text(f"{label('Phone', self.language)} {centre.phone}", size=_BODY - 1)
        y = self.pdf.get_y() + 2
        self.pdf.line(self.pdf.l_margin, y, self.pdf.l_margin + self.width, y)
        self.pdf.set_y(y + 3)

    def title(self, text: str) -> None:
        self._text(text, size=17, bold=True, align="C")
        self.pdf.ln(2)

    def heading(self, text: str) -> None:
        self.pdf.ln(2)
        self._text(text, size=_BODY + 1, bold=True)

    def field(self, name: str, value: str, *, name_width: float = 42) -> None:
        """A labelled value: the label in bold, the value beside it, wrapped under."""
        self.pdf.set_font(self._family, "B", _BODY)
        self.pdf.cell(name_width, _LINE, name)
        self.pdf.set_font(self._family, "", _BODY)
        self.pdf.multi_cell(self.width - name_width, _LINE, value or "-",
                            new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def paragraph(self, text: str, *, size: float = _BODY, bold: bool = False) -> None:
        self._text(text, size=size, bold=bold)

    def items(self, texts: Sequence[str]) -> None:
        for text in texts:
            self._text(f"•  {text}")

    def gap(self, mm: float = 3) -> None:
        self.pdf.ln(mm)

    def rule(self) -> None:
        y = self.pdf.get_y() + 1
        self.pdf.line(self.pdf.l_margin, y, self.pdf.l_margin + self.width, y)
        self.pdf.set_y(y + 2)

    def output(self) -> bytes:
        return bytes(self.pdf.output())

    def _text(self, text: str, *, size: float = _BODY, bold: bool = False,
              align: str = "L") -> None:
        self.pdf.set_font(self._family, "B" if bold else "", size)
        self.pdf.multi_cell(0, size * 0.55, text, align=align, new_x=XPos.LMARGIN,
                            new_y=YPos.NEXT)
        self.pdf.set_font(self._family, "", _BODY)


def _add(pdf: FPDF, face: Face) -> str:
    pdf.add_font(face.family, "", str(face.regular))
    pdf.add_font(face.family, "B", str(face.bold))
    return face.family
