"""Untrusted text: the characters a results file may not hold, and strings shown as plain text.

Everything in a results file is written by whoever submits it: its agent reference, config, labels
and hardware strings reach terminals (``icl-bench validate``, ``leaderboard``), the HTML report and
its plots. Two defences, both here so that the validator and every printer share them:

- :data:`CONTROL_CHARACTERS` (C0, DEL, C1 and lone surrogates) are refused in every string of a
  results file (but tab, newline and carriage return in the values of an agent's config): an ESC (``\\x1b``) or a C1 CSI starts a terminal escape sequence (clipboard writes,
  clear-screen, window title, reset), and a lone surrogate cannot be encoded as UTF-8 to store.
- Whatever is printed is plain text: :func:`plain` makes a rich ``Text`` (no markup, so
  ``[link=...]`` stays literal; no emoji codes) with any control character written as an escape,
  and :func:`for_matplotlib` keeps ``$`` from starting math text in a plot.
"""

from __future__ import annotations

import re
from typing import Any

from rich.text import Text

#: C0 controls (tab and newline included), DEL, C1 controls and lone surrogates.
CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
#: The same but tab, newline and carriage return: an agent config's values may be multi-line text
#: (a language agent's prompt). Printers still show them escaped, so a table row stays one line.
CONTROL_CHARACTERS_BUT_LAYOUT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def escape_character(character: str) -> str:
    """``\\x1b``, ``\\x9b`` or ``\\ud800``: a character written as its Python escape."""
    code = ord(character)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def first_control_character(text: str, layout_ok: bool = False) -> tuple[int, str] | None:
    """(position, escaped character) of the first control character in ``text``, or None;
    ``layout_ok``: tab, newline and carriage return are not counted."""
    match = (CONTROL_CHARACTERS_BUT_LAYOUT if layout_ok else CONTROL_CHARACTERS).search(text)
    return None if match is None else (match.start(), escape_character(match.group()))


def visible(text: Any) -> str:
    """``str(text)`` with every control character or lone surrogate written as an escape."""
    return CONTROL_CHARACTERS.sub(lambda match: escape_character(match.group()), str(text))


def plain(text: Any, style: str = "") -> Text:
    """A rich ``Text`` of ``text`` shown as is: no markup, no emoji, control characters escaped."""
    return Text(visible(text), style=style)


def for_matplotlib(text: Any) -> str:
    """``text`` for a matplotlib label: every ``$`` escaped, so no math text is parsed (an agent
    label such as ``a$\\frac{$`` crashed the report), control characters escaped."""
    return visible(text).replace("$", r"\$")
