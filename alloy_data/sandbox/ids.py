"""Identifiers: Mongo-style ObjectIds for users and credentials, reversible record ids."""

from __future__ import annotations

import hashlib
import re
import threading

_OBJECT_ID = re.compile(r"[0-9a-f]{24}")
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def is_object_id(value: object) -> bool:
    """Return True when ``value`` is a 24-hex-digit ObjectId string."""
    return isinstance(value, str) and _OBJECT_ID.fullmatch(value) is not None


class IdFactory:
    """Hands out deterministic ids for users, credentials and executions.

    The same seed gives the same sequence, so fixtures keep their ids between runs.
    """

    def __init__(self, seed: int, *, object_ids: bool) -> None:
        self._object_ids = object_ids
        # A fixed "timestamp" and machine part, as a real ObjectId has, derived from the seed.
        digest = hashlib.blake2b(f"ids:{seed}".encode(), digest_size=5).hexdigest()
        self._prefix = "68c32297" + digest
        self._counter = 0
        self._lock = threading.Lock()

    def new(self, kind: str) -> str:
        """Return a new id; ``kind`` ("usr", "cred", "exec") prefixes it outside ObjectId mode."""
        with self._lock:
            self._counter += 1
            number = self._counter
        if self._object_ids:
            return f"{self._prefix}{number:06x}"
        return f"{kind}_{self._prefix[8:]}{number:06x}"


def base62(number: int, width: int) -> str:
    """Return ``number`` in base 62, left-padded with zeros to ``width`` characters."""
    digits = []
    while number:
        number, rest = divmod(number, 62)
        digits.append(_BASE62[rest])
    text = "".join(reversed(digits)) or "0"
    return text.rjust(width, "0")


def from_base62(text: str) -> int | None:
    """Return the number a base-62 string encodes, or None when it is not base 62."""
    number = 0
    for char in text:
        value = _BASE62.find(char)
        if value < 0:
            return None
        number = number * 62 + value
    return number


def _tag(index: int, length: int) -> str:
    # A deterministic, random-looking tail so ids look like the real app's ids.
    digest = hashlib.blake2b(index.to_bytes(8, "big"), digest_size=16).digest()
    return "".join(_BASE62[byte % 62] for byte in digest[:length])


class RecordIds:
    """A reversible mapping between a record's index and its id, in one app's id style."""

    def __init__(self, style: str, *, prefix: str = "", start: int = 0, offset: int = 0) -> None:
        self.style = style
        self.prefix = prefix
        self.start = start
        self.offset = offset

    def shifted(self, offset: int) -> RecordIds:
        """Return the same id style with record ``i`` taking the id of record ``i + offset``."""
        return RecordIds(
            self.style, prefix=self.prefix, start=self.start, offset=self.offset + offset
        )

    def id_for(self, index: int) -> str | int:
        """Return the id of the record at ``index``."""
        index += self.offset
        if self.style == "int":
            return self.start + index
        if self.style == "digits":
            return f"{self.prefix}{self.start + index}"
        if self.style == "stripe":
            return f"{self.prefix}{base62(index, 8)}{_tag(index, 16)}"
        # "uuid": the last group carries the index, the rest is fixed per resource.
        head = hashlib.blake2b(self.prefix.encode(), digest_size=10).hexdigest()
        return f"{head[:8]}-{head[8:12]}-4{head[13:16]}-a{head[17:20]}-{index:012x}"

    def index_for(self, value: object) -> int | None:
        """Return the index an id stands for, or None when it is not an id of this style."""
        text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
        if not isinstance(text, str):
            return None
        if self.style in ("int", "digits"):
            if not text.startswith(self.prefix):
                return None
            digits = text[len(self.prefix) :]
            if not digits.isdigit() or not digits.isascii():
                return None
            index = int(digits) - self.start
        elif self.style == "stripe":
            body = text[len(self.prefix) : len(self.prefix) + 8]
            decoded = from_base62(body) if text.startswith(self.prefix) else None
            if decoded is None:
                return None
            index = decoded
        else:
            tail = text.rsplit("-", 1)[-1]
            try:
                index = int(tail, 16)
            except ValueError:
                return None
        index -= self.offset
        if index < 0 or str(self.id_for(index)) != text:
            return None
        return index
