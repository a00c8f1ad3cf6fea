"""Removing personal data from traffic before it reaches a third-party model.

The redacted text is what is stored and what is sent. Card numbers must pass the Luhn check and
phone numbers need 9 to 15 digits, so order and ticket numbers survive.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
CARD = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
PHONE = re.compile(r"(?<![\w-])\+?\(?\d[\d ().-]{6,}\d(?![\w-])")


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, digit in enumerate(reversed(digits)):
        value = int(digit) * (2 if i % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _card(match: re.Match) -> str:
    digits = re.sub(r"\D", "", match.group())
    return "[CARD]" if 13 <= len(digits) <= 19 and _luhn_ok(digits) else match.group()


def _phone(match: re.Match) -> str:
    digits = re.sub(r"\D", "", match.group())
    return "[PHONE]" if 9 <= len(digits) <= 15 else match.group()


# Cards before phones: a card number also looks like a long phone number.
REDACTORS: dict[str, tuple[re.Pattern, Callable[[re.Match], str] | str]] = {
    "email": (EMAIL, "[EMAIL]"),
    "card": (CARD, _card),
    "phone": (PHONE, _phone),
}


def redact(text: str | None, kinds: Iterable[str] = tuple(REDACTORS),
           extra: dict[str, str] | None = None) -> str | None:
    """``text`` with each kind of personal data replaced by a placeholder such as ``[EMAIL]``.

    ``extra`` maps placeholder names to further regular expressions (e.g. customer ids)."""
    if not isinstance(text, str):  # None or NaN: nothing to redact
        return text
    unknown = set(kinds) - set(REDACTORS)
    if unknown:
        raise ValueError(f"redact: unknown kind(s) {sorted(unknown)}; known: {sorted(REDACTORS)}")
    for kind in REDACTORS:
        if kind in kinds:
            pattern, replacement = REDACTORS[kind]
            text = pattern.sub(replacement, text)
    for name, pattern in (extra or {}).items():
        text = re.sub(pattern, f"[{name.upper()}]", text)
    return text
