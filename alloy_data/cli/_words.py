"""The library's advice in the command line's words: commands and flags, not Python calls.

The library's messages name what a Python user types (``overwrite=True``,
``client.connectors.list()``); on the command line the same advice names ``--overwrite`` and
``alloy-data connectors``. Every message the command line prints goes through
:func:`in_cli_words`.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from alloy_data.cli._pull_options import OPTION_FLAGS

__all__ = ["in_cli_words"]

_Replacement = str | Callable[[re.Match[str]], str]

_ID = r"'([^']*)'"

# Calls and arguments -> commands and flags, most specific first.
_CALLS: list[tuple[str, _Replacement]] = [
    (r"client\.connectors\.list\(\)", "alloy-data connectors"),
    (rf"client\.connectors\.(?:actions|resources)\({_ID}\)", r"alloy-data resources \1"),
    (r"client\.connectors\.(?:actions|resources)\(\w+\)", "alloy-data resources CONNECTOR"),
    (rf"client\.actions\.get\({_ID}, {_ID}\)", r"alloy-data action \1 \2"),
    (r"client\.actions\.get\(\w+, \w+\)", "alloy-data action CONNECTOR ACTION"),
    (
        rf"client\.credentials\.list\({_ID}, user_id={_ID}\)",
        r"alloy-data credentials \1 --user \2",
    ),
    (
        rf"client\.credentials\.list\({_ID}, user_id=\.\.\.\)",
        r"alloy-data credentials \1 --user USER_ID",
    ),
    (
        r"client\.credentials\.list\(\w+, user_id=\.\.\.\)",
        "alloy-data credentials CONNECTOR --user USER_ID",
    ),
    (r"client\.users\.list\(\)", "alloy-data users"),
    (r"client\.users\.create\([^)]*\)", "alloy-data users --create USERNAME"),
    (r"client\.users\.credentials\(\w+\)", "alloy-data credentials CONNECTOR --user USER_ID"),
    (
        r"client\.pull_many\(\.\.\.\)\.to_parquet\(directory, mode=\.\.\.\)",
        "--all-credentials with a directory as --out",
    ),
    (r"AlloyClient\(api_key=\.\.\.\)", "--api-key"),
    (r" \(trust_env=False ignores the environment\)", ""),
    (r"mode='replace' with overwrite=True", "--overwrite without --incremental"),
    (r"run the same call with resume=True", "run the same command with --resume"),
    (r", or pass allow_insecure_http=True if you are sure \([^)]*\)", ""),
    (r"\b(?:the )?argument (?=base_url|api_key|api_version)", ""),
    (r"run the same export with resume=True", "run the same command with --resume"),
    (r"run the same pull again with resume=True", "run the same command with --resume"),
    (r"call it again with resume=True", "run the same command with --resume"),
    (r"\(?pass resume=False to discard it\b", "leave out --resume to discard it"),
    (r"without resume=True", "without --resume"),
    (r"\bresume=True\b", "--resume"),
    (r"\boverwrite=True\b", "--overwrite"),
    (
        r"incremental=(?:alloy_data\.)?Incremental\(cursor_field='([^']*)', "
        r"primary_key='([^']*)'\)",
        r"--incremental \1 --primary-key \2",
    ),
    (r"Incremental\(\.\.\., parameter='\.\.\.'\)", "--filter-parameter NAME"),
    # Paginator classes configured by hand exist in Python only.
    (r" or a configured instance such as \w+\([^)]*\)", ""),
    (r"\(user_id=\.\.\.\)", "(--user USER_ID)"),
    (r"\buser_id=\.\.\.", "--user USER_ID"),
    (r"\buser_id=", "--user "),
    (r"\bthe api_key argument\b", "--api-key"),
    (r"\bbase_url=?(?=[ ,)]| or)", "--base-url"),
    (r"\bapi_version=?(?=[ ,)]| or)", "--api-version"),
    (r"\bapi_key=?(?=[ ,)]| or)", "--api-key"),
    # A flag left out is the library's None.
    (r", a RetryPolicy or None", ""),
    (r" or None \(no cap\)", ""),
    (r" or None\b", ""),
]


def _option_words() -> list[tuple[str, _Replacement]]:
    words: list[tuple[str, _Replacement]] = []
    for name, flag in OPTION_FLAGS.items():
        if name == "progress":
            continue
        # name='value' or name=value -> --flag value
        words.append(
            (rf"(?<![\w.-]){name}=(?:'([^']*)'|\"([^\"]*)\"|([^\s,;:)]+))", _flag_with(flag))
        )
        # A bare option name: those with an underscore are no English word; the others only
        # where they start what a message says of them.
        bare = rf"(?<![\w.-]){name}\b" if "_" in name else rf"(?<![\w.-]){name}(?= must\b)"
        words.append((bare, flag))
    return words


def _flag_with(flag: str) -> Callable[[re.Match[str]], str]:
    def replace(match: re.Match[str]) -> str:
        value = next((group for group in match.groups() if group is not None), "")
        return f"{flag} {value}"

    return replace


_TABLE = [(re.compile(pattern), replacement) for pattern, replacement in _CALLS + _option_words()]


def in_cli_words(text: str) -> str:
    """Rewrite a library message into the command line's words.

    Args:
        text: A message the library wrote for Python (an error, a note, a warning).

    Returns:
        The message naming ``alloy-data`` commands and flags where it named calls and keyword
        arguments.
    """
    for pattern, replacement in _TABLE:
        text = pattern.sub(replacement, text)
    return text
