"""Texts in several languages inside one FHIR element: the value in the resource's own
language, the others in the standard ``translation`` extension on the primitive
(``_name``, ``_district``), as FHIR R4 defines it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mor.services.scheduling.codes import TRANSLATION_URL


def with_translations(element: dict[str, Any], key: str, texts: Mapping[str, str],
                      language: str) -> None:
    """Set ``element[key]`` to the text in ``language`` and add the others as
    translations. ``texts`` maps language codes to texts; empty ones are left out."""
    given = {lang: text.strip() for lang, text in texts.items() if text and text.strip()}
    if not given:
        return
    main = given.pop(language, None) or given.pop(next(iter(given)))
    element[key] = main
    if given:
        element[f"_{key}"] = {"extension": [
            {"url": TRANSLATION_URL, "extension": [
                {"url": "lang", "valueCode": lang}, {"url": "content", "valueString": text}]}
            for lang, text in sorted(given.items())]}


def texts_of(element: Mapping[str, Any], key: str, language: str) -> dict[str, str]:
    """The texts of ``element[key]`` by language, the value itself under ``language``."""
    texts: dict[str, str] = {}
    for extension in (element.get(f"_{key}") or {}).get("extension") or ():
        if extension.get("url") != TRANSLATION_URL:
            continue
        parts = {e.get("url"): e for e in extension.get("extension") or ()}
        lang = (parts.get("lang") or {}).get("valueCode")
        content = (parts.get("content") or {}).get("valueString")
        if lang and content:
            texts[lang] = content
    if isinstance(element.get(key), str):
        texts[language] = element[key]
    return texts


def in_language(texts: Mapping[str, str], language: str, fallback: str) -> str:
    """The text in ``language``, else in the resource's own language ``fallback``, else
    any there is."""
    return texts.get(language) or texts.get(fallback) or next(iter(texts.values()), "")
