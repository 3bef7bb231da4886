"""The largest page an app allows, found as a person would: a declared maximum, else the
parameter description's words, else the app's 400 answer to a page too large.

The contract's ``ActionParameter`` carries only a name, a type, whether it is required and a
description, so most apps state their limit in words ("max 100", "between 1 and 250") or only
in the error they send for a page too large ("must be less than or equal to 100").
"""

from __future__ import annotations

import re

from alloy_data._tuning import PROBE_PAGE_SIZE
from alloy_data.models import ActionParameter

__all__ = ["PROBE_PAGE_SIZE", "maximum_in_words", "smaller_page_size", "stated_maximum"]


_NUMBER = r"(\d[\d,]*)"
# Each pattern's last group is the maximum. Order does not matter: the largest match wins,
# since a description may also name a default ("default 10, max 100").
_MAXIMUM_PATTERNS = tuple(
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        rf"\bmax(?:imum)?(?:\s+(?:value|page\s+size|size|limit|is|of))*\s*[:=.]?\s*(?:is\s+)?{_NUMBER}",
        rf"\bbetween\s+\d+\s+and\s+{_NUMBER}",
        rf"\bfrom\s+\d+\s+to\s+{_NUMBER}",
        rf"\bup\s+to\s+(?:a\s+maximum\s+of\s+)?{_NUMBER}",
        rf"(?<![\w.-])\d+\s*(?:-|\u2013|\u2014|\.\.)\s*{_NUMBER}(?![\w.-])",
        rf"\b(?:can\s*not|cannot|must\s+not|may\s+not|should\s+not|not\s+to|does\s+not|to\s+not)"
        rf"\s+exceed\s+{_NUMBER}",
        rf"\bexceed(?:s|ing)?\s+(?:the\s+(?:maximum|limit)\s+of\s+)?{_NUMBER}",
        rf"(?:<=|≤|=<)\s*[`'\"]?{_NUMBER}",
        rf"\b(?:less|fewer|smaller|lower)\s+than\s+or\s+equal\s+to\s+{_NUMBER}",
        rf"\b(?:at\s+most|no\s+more\s+than|not\s+more\s+than|no\s+greater\s+than"
        rf"|not\s+greater\s+than|no\s+larger\s+than|limited\s+to|capped\s+at)\s+{_NUMBER}",
    )
)
# Words in a 400's message that say it is about the size of a page.
_ABOUT_PAGE_SIZE = re.compile(
    r"page\s*size|page_size|per[\s_-]?page|too\s+(?:large|big|many)|exceed|maximum|\bmax\b"
    r"|\blimit\b",
    re.IGNORECASE,
)


def _numbers(text: str) -> list[int]:
    found = []
    for pattern in _MAXIMUM_PATTERNS:
        for match in pattern.finditer(text):
            digits = match.group(match.lastindex or 1).replace(",", "")
            if digits.isdigit():
                found.append(int(digits))
    return [number for number in found if number > 0]


def maximum_in_words(text: str | None) -> int | None:
    """Read the largest page size a parameter's description states in words.

    Understands "max 100", "maximum: 50", "between 1 and 250", "up to 1000", "1-100",
    "cannot exceed 500", "<= 100", "less than or equal to 100", "at most 100" and the like; a
    default named beside the maximum ("default 10, max 100") is not taken for it.

    Returns:
        The maximum, or None when the text states none.
    """
    if not text:
        return None
    numbers = _numbers(text)
    return max(numbers) if numbers else None


def stated_maximum(parameter: ActionParameter) -> tuple[int | None, str]:
    """Return the largest value a parameter allows and where that was read.

    Returns:
        ``(maximum, "declared")`` when the metadata declares one, ``(maximum, "described")``
        when the description states one in words, else ``(None, "")``.
    """
    declared = parameter.maximum
    if isinstance(declared, (int, float)) and not isinstance(declared, bool) and declared >= 1:
        return int(declared), "declared"
    described = maximum_in_words(parameter.description)
    return (described, "described") if described is not None else (None, "")


_QUOTED_NAME = re.compile(r"['\"`]([A-Za-z_$][\w.\[\]$-]*)['\"`]")


def _blames_another_parameter(message: str, parameter: str) -> bool:
    # "unknown parameter 'color' (accepted: after, limit)" is about 'color', not the page size.
    quoted = set(_QUOTED_NAME.findall(message))
    return (
        bool(quoted)
        and parameter not in quoted
        and not any(name.endswith(("." + parameter, "[" + parameter + "]")) for name in quoted)
    )


def smaller_page_size(message: str, asked: int, parameter: str) -> int | None:
    """Decide the page size to try after an app refused ``asked`` with a 400 and ``message``.

    Returns:
        The number the message names as the maximum, when it is below ``asked``; else half of
        ``asked`` (at least 1) when the message is about the page size (it names
        ``parameter`` or says "page size", "too large", "exceed", "limit"...); else None, as
        the 400 is about something else.
    """
    if asked <= 1 or _blames_another_parameter(message, parameter):
        return None
    named = [number for number in _numbers(message) if number < asked]
    if named:
        return max(named)
    mentions_parameter = re.search(rf"(?<![\w]){re.escape(parameter)}(?![\w])", message)
    if mentions_parameter or _ABOUT_PAGE_SIZE.search(message):
        return max(1, asked // 2)
    return None
