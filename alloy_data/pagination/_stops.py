"""When a walk stops, and why: the limits, the loop guards and their messages.

Both schedules of a walk hand every page to the same :class:`WalkStops`, in page order: the
sequential one (:class:`~alloy_data.pagination.PageWalker`) and the overlapping one
(``alloy_data.engine.parallel_pages``). So they stop at the same page with the same message.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from alloy_data.errors import PaginationWarning
from alloy_data.pagination._records import fingerprint

__all__ = ["StopKind", "StopReason", "WalkStops", "caller_stacklevel", "state_key"]

logger = logging.getLogger("alloy_data.pagination")

StopKind = Literal[
    "end", "single_page", "max_pages", "max_records", "repeated_cursor", "repeated_page"
]

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


@dataclass(frozen=True)
class StopReason:
    """Why a pull stopped.

    Attributes:
        kind: ``"end"`` (the answer said it was the last page), ``"single_page"`` (the action
            does not page), ``"max_pages"`` or ``"max_records"`` (the limits you set),
            ``"repeated_cursor"`` (the next page's parameters were already used: a loop), or
            ``"repeated_page"`` (the server sent an earlier page's records again, as when it
            ignores the cursor).
        message: What happened and what to do about it.
        data_may_be_missing: True when the pull stopped on a guard rather than at the end or
            at a limit you set, so records the server holds may not have been pulled.
    """

    kind: StopKind
    message: str
    data_may_be_missing: bool = False


def state_key(parameters: Mapping[str, Any]) -> str:
    """Return a hashable text that is equal for equal page parameters."""
    return json.dumps(parameters, sort_keys=True, default=str)


def caller_stacklevel() -> int:
    """The stack level of the first caller outside this package, for warnings."""
    frame = inspect.currentframe()
    level = 0
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR + os.sep):
        frame = frame.f_back
        level += 1
    return max(level, 1)


class WalkStops:
    """The counts of one walk and the rules that stop it.

    A schedule hands over each page in page order: :meth:`repeats` first (with the records as
    the server sent them), then :meth:`cut` to keep within ``max_records``, then :meth:`after`
    with the records kept, which counts the page and tells whether the walk ends with it.

    Args:
        max_pages: The most pages of the whole dataset: page numbers count from the dataset's
            first page, also when a walk resumes later.
        max_records: The most records of the whole dataset, ``records_before`` included.
        first_page_number: The number of the walk's first page (above 1 when resuming).
        records_before: Records saved before the walk's first page (when resuming).

    Attributes:
        pages: Pages counted so far in this walk.
        records: Records counted so far in this walk (not counting ``records_before``).
        stop_reason: Why the walk stopped, once it did.
        notes: What the walk saw on the way, stops included.
    """

    def __init__(
        self,
        *,
        max_pages: int | None = None,
        max_records: int | None = None,
        first_page_number: int = 1,
        records_before: int = 0,
    ) -> None:
        self.max_pages = max_pages
        self.max_records = max_records
        self.first_page_number = first_page_number
        self.records_before = records_before
        self.pages = 0
        self.records = 0
        self.stop_reason: StopReason | None = None
        self.notes: list[str] = []
        self._used: set[str] = set()
        self._seen: dict[str, int] = {}

    @property
    def dataset_records(self) -> int:
        """Records of the whole dataset so far: those saved before the walk and the walk's."""
        return self.records_before + self.records

    def room(self) -> int | None:
        """Return how many more records ``max_records`` allows, or None without a limit."""
        if self.max_records is None:
            return None
        return max(self.max_records - self.dataset_records, 0)

    def note(self, message: str) -> None:
        """Keep a note of something the walk saw, and log it."""
        self.notes.append(message)
        logger.info("%s", message)

    def stop(self, kind: StopKind, message: str, *, data_may_be_missing: bool = False) -> None:
        """Record why the walk stopped; a stop that may leave data behind also warns."""
        self.stop_reason = StopReason(kind, message, data_may_be_missing)
        self.notes.append(message)
        if data_may_be_missing:
            logger.warning("%s", message)
            warnings.warn(message, PaginationWarning, stacklevel=caller_stacklevel())
        else:
            logger.info("%s", message)

    def begin(self, parameters: Mapping[str, Any]) -> None:
        """Remember the first page's parameters, so that a loop back to them is caught."""
        self._used = {state_key(parameters)}

    def repeats(self, number: int, records: list[dict[str, Any]], *, confirming_end: bool) -> bool:
        """Tell whether page ``number`` repeats an earlier page's records; if so, stop.

        Args:
            number: The page's number.
            records: The page's records as the server sent them.
            confirming_end: The page before was short of the size asked, so a repeat of it is
                how some servers answer past the end.

        Returns:
            True when the walk stops before this page.
        """
        if not records:
            return False
        digest = fingerprint(records)
        earlier = self._seen.get(digest)
        if earlier is None:
            self._seen[digest] = number
            return False
        if confirming_end:
            # Servers that clamp an out-of-range page to the last one answer this way.
            self.stop(
                "end",
                f"Reached the last page ({number - 1} pages, {self.dataset_records} records); "
                f"page {number} repeated page {earlier}, as past-the-end pages do on some "
                "servers.",
            )
            return True
        self.stop(
            "repeated_page",
            f"Stopped before page {number}: its records are those of page {earlier} again, so "
            "the server ignores the paging parameters. Data may be missing; set the paginator "
            "by hand (paginator='cursor' or a configured instance such as "
            "CursorPaginator(cursor_parameter=..., cursor_path=...)).",
            data_may_be_missing=True,
        )
        return True

    def cut(self, records: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], bool]:
        """Return the records ``max_records`` lets in, and whether any were left out."""
        room = self.room()
        if room is None or len(records) <= room:
            return records, False
        return records[:room], True

    def after(
        self,
        number: int,
        kept: int,
        *,
        following: Mapping[str, Any] | None,
        cut: bool = False,
        total: int | None = None,
        single_page: bool = False,
    ) -> bool:
        """Count page ``number`` and tell whether the walk ends with it.

        Args:
            number: The page's number.
            kept: How many of its records were kept (after :meth:`cut`).
            following: The next page's parameters, or None when this page is the last.
            cut: Whether :meth:`cut` left records out.
            total: The total record count the answer told, if any.
            single_page: The action does not page at all.

        Returns:
            True when the walk stops after this page (see :attr:`stop_reason`).
        """
        self.pages += 1
        self.records += kept
        reached = self.max_records is not None and self.dataset_records >= self.max_records
        if cut or (reached and following is not None):
            self.stop(
                "max_records",
                f"Stopped at max_records={self.max_records} on page {number}; more records exist.",
            )
            return True
        if following is None:
            if single_page:
                self.stop(
                    "single_page",
                    f"The action answered with one page ({self.dataset_records} records).",
                )
            else:
                self.end(number)
                self._check_total(total)
            return True
        if self.max_pages is not None and number >= self.max_pages:
            self.stop("max_pages", f"Stopped at max_pages={self.max_pages}; more pages exist.")
            return True
        key = state_key(following)
        if key in self._used:
            self.stop(
                "repeated_cursor",
                f"Stopped after page {number}: the next page's parameters were already "
                f"used on an earlier page ({dict(following)}), so the server is looping. Data "
                "may be missing; check the paginator's cursor settings.",
                data_may_be_missing=True,
            )
            return True
        self._used.add(key)
        return False

    def end(self, number: int) -> None:
        """Stop at the end: page ``number`` was the last."""
        self.stop("end", f"Reached the last page ({number} pages, {self.dataset_records} records).")

    def full_page_past_total(self, number: int) -> None:
        """Note a full page where the answer's total says the records end."""
        self.note(
            f"page {number} is full where the answer's total says the records end; "
            "paging on until an empty or short page instead"
        )

    def _check_total(self, total: int | None) -> None:
        # Only a walk that counts every record before it can hold its count against the total.
        whole = self.first_page_number == 1 or self.records_before > 0
        if total is not None and total != self.dataset_records and whole:
            self.note(
                f"the answer's total ({total}) disagrees with the {self.dataset_records} records "
                "received; every record received is kept"
            )
