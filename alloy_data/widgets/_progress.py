"""The Explorer's progress bar and its line of figures."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from alloy_data.widgets._code import count

if TYPE_CHECKING:
    import ipywidgets as widgets

    from alloy_data.progress import ProgressUpdate

__all__ = ["end_bar", "reset_bar", "show_figures"]


def reset_bar(bar: widgets.FloatProgress, label: widgets.HTML) -> None:
    """Empty the bar and its figures before a new pull."""
    bar.value = 0.0
    bar.bar_style = ""
    label.value = ""


def end_bar(bar: widgets.FloatProgress, *, ok: bool) -> None:
    """Colour the bar by the outcome: full and green, or red where it stopped."""
    # A pull sends its last figures also when it fails: only the outcome says which colour.
    if ok:
        bar.value = 1.0
    bar.bar_style = "success" if ok else "danger"


def show_figures(bar: widgets.FloatProgress, label: widgets.HTML, figures: ProgressUpdate) -> None:
    """Fill the bar and write the figures of a pull in progress."""
    if figures.total:
        bar.value = min(figures.records / figures.total, 1.0)
    elif figures.credentials_total:
        bar.value = (figures.credentials_done or 0) / figures.credentials_total
    elif not figures.done:
        # No total to measure against: full and blue while it runs, as tqdm's notebook bar
        # shows an unknown total, so that a running pull does not look stalled.
        bar.value = 1.0
        bar.bar_style = "info"
    text = (
        f"{count(figures.records, 'record')} · {count(figures.pages, 'page')} · "
        f"{figures.records_per_second:,.0f} records/s"
    )
    if figures.retries:
        text += f" · {figures.retries} retries ({figures.seconds_waited:.1f} s waited)"
    if figures.retrying is not None:
        text += f" · retrying after {figures.retrying}"
    if figures.seconds_paced:
        text += f" · {figures.seconds_paced:.1f} s paced to the rate cap"
    if figures.waiting_for_limit is not None:
        text += f" · waiting {figures.waiting_for_limit:.1f} s for the API's rate limit"
    elif figures.limit_waits:
        text += f" · {figures.seconds_limited:.1f} s waited for the API's rate limit"
    if figures.credentials_total is not None:
        text = f"{figures.credentials_done or 0}/{figures.credentials_total} credentials · " + text
        if figures.credentials_failed:
            text += f" · {figures.credentials_failed} failed"
    label.value = html.escape(text)
