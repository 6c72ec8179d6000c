"""Marking messages that people read, so they are translated (Thai, Lao, English).

``N_`` marks a message where it is written, in any layer; the web layer translates it
where it is shown (:mod:`mor.web.i18n`). Marked messages are fixed strings: a message
built with values in it could not be looked up in the catalogues.
"""

from __future__ import annotations


def N_(message: str) -> str:
    return message


class Refused(Exception):
    """What a person may not or cannot do, said so they can act on it: ``message`` is a
    msgid, translated where it is shown."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
