"""Every message of mor's pages exists in Thai and Lao: a test fails on any message the
catalogues lack, leave empty, or translate with different placeholders."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from mor.web.i18n import LOCALE_DIR, translations

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"%\(\w+\)s|\{\w+\}")


def _source_messages() -> set[str]:
    method_map = [("mor/**.py", "python"), ("mor/web/templates/**.html", "jinja2")]
    options = {"mor/web/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    keywords = {"_": None, "gettext": (2,), "N_": None}
    found = extract_from_dir(str(ROOT), method_map, options, keywords=keywords)
    return {message if isinstance(message, str) else message[0]
            for _file, _line, message, _comments, _context in found}


@pytest.mark.parametrize("language", ["th", "lo"])
def test_every_message_is_translated(language: str) -> None:
    messages = _source_messages()
    assert len(messages) > 20
    with (LOCALE_DIR / language / "LC_MESSAGES" / "mor.po").open("rb") as po:
        catalog = read_po(po, locale=language)
    translated = {m.id: m.string for m in catalog if m.id}
    missing = sorted(messages - set(translated))
    assert missing == [], f"not in the {language} catalogue: run scripts/translations"
    empty = sorted(m for m in messages if not translated[m])
    assert empty == [], f"untranslated in {language}"
    for message in messages:
        assert sorted(PLACEHOLDER.findall(message)) == sorted(
            PLACEHOLDER.findall(str(translated[message]))), message
    # And they load: a message comes back in the language.
    assert translations(language).gettext("Sign in") != "Sign in"
