"""What the notebook pickers share: a dropdown-backed ``value``, a status line, error display."""

from __future__ import annotations

import html
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import ipywidgets as widgets
import traitlets

from alloy_data.errors import AlloyAPIError, AlloyError, PaginationWarning

__all__ = [
    "ChoiceWidget",
    "attempt",
    "error_text",
    "reported",
    "show_error",
    "show_info",
    "show_table",
    "unexpected_text",
]

Options = Sequence[tuple[str, str]]
T = TypeVar("T")

# Readable names for the error classes a notebook user is most likely to meet.
_ERROR_TITLES = {
    "AuthenticationError": "Authentication failed",
    "PermissionDeniedError": "Permission denied",
    "NotFoundError": "Not found",
    "BadRequestError": "Bad request",
    "RateLimitError": "Rate limited",
    "ServerError": "Server error",
    "AlloyConnectionError": "Connection failed",
    "AlloyTimeoutError": "Timed out",
    "ConfigurationError": "Check the settings",
    "ClientClosedError": "Client closed",
    "ResponseError": "Unexpected answer",
    "PaginationError": "Pagination failed",
    "ExportError": "Export failed",
}


def error_text(error: AlloyError) -> str:
    """Describe an error in one line for a status line.

    Returns:
        The error's kind in words (``"Permission denied"``), then its message.
    """
    title = _ERROR_TITLES.get(type(error).__name__)
    if title is None:
        title = f"Error {error.status}" if isinstance(error, AlloyAPIError) else "Error"
    return f"{title}: {error}"


def unexpected_text(error: Exception, code: str) -> str:
    """Describe an error that is not alloy-data's own, for a status line.

    Args:
        error: The error.
        code: The call that does the same in a cell, where the traceback shows.

    Returns:
        What happened, and what to run to see where.
    """
    return f"Unexpected {type(error).__name__}: {error}. Run {code} in a cell to see the traceback."


@contextmanager
def reported(status: widgets.HTML, code: str) -> Iterator[None]:
    """Show an error raised inside in ``status`` instead of raising it.

    For what the browser calls (a click, a choice in a dropdown): an error raised there has no
    cell to show in and would reach only the browser's console.

    Args:
        status: The status line.
        code: The call that does the same in a cell (see :func:`unexpected_text`).
    """
    try:
        yield
    except AlloyError as error:
        show_error(status, error)
    except Exception as error:
        show_error(status, unexpected_text(error, code))


def attempt(
    status: widgets.HTML, work: Callable[[], T], doing: str
) -> tuple[T | None, AlloyError | None]:
    """Run ``work``, saying in ``status`` that it is ``doing`` it, then what went wrong.

    An ``AlloyError`` is shown instead of raised, and so are pagination warnings (other
    warnings are warned as usual); the status line is cleared when there is neither.

    Returns:
        ``(result, None)``, or ``(None, error)`` when ``work`` raised an ``AlloyError``.
    """
    show_info(status, doing)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", PaginationWarning)
            result = work()
    except AlloyError as error:
        show_error(status, error)
        return None, error
    notes = []
    for warning in caught:
        if issubclass(warning.category, PaginationWarning):
            notes.append(str(warning.message))
        else:
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )
    if notes:
        show_error(status, " ".join(notes))
    else:
        show_info(status, "")
    return result, None


def show_error(status: widgets.HTML, error: AlloyError | str) -> None:
    """Show an error in a status line."""
    text = error if isinstance(error, str) else error_text(error)
    status.value = f'<span style="color: #b00020">{html.escape(text)}</span>'


def show_table(output: widgets.Output, head: Any, caption: str) -> None:
    """Show the first rows of a DataFrame (``head``) under a caption, as text and HTML."""
    table = head.to_html(max_cols=30, border=0)
    output.outputs = (
        {
            "output_type": "display_data",
            "data": {
                "text/plain": f"{caption}\n{head.to_string(max_cols=30)}",
                "text/html": f"<p>{html.escape(caption)}</p>{table}",
            },
            "metadata": {},
        },
    )


def show_info(status: widgets.HTML, text: str) -> None:
    """Show a plain message in a status line (an empty text clears it)."""
    status.value = html.escape(text)


class ChoiceWidget(widgets.VBox):
    """A composite widget whose ``value`` is chosen from a dropdown of ``(label, value)`` pairs.

    Setting ``value`` selects the matching option; choosing an option sets ``value``. Options
    are replaced quietly, so replacing them never fires a cascade of its own.
    """

    value = traitlets.Unicode(None, allow_none=True, help="The chosen option's value.")

    def __init__(self, description: str, **kwargs: Any) -> None:
        self._quiet = False
        self.dropdown = widgets.Dropdown(
            description=description,
            options=[],
            value=None,
            layout=widgets.Layout(width="32em"),
        )
        self.status = widgets.HTML()
        self.status.add_class("alloy-picker-status")
        super().__init__(**kwargs)
        self.dropdown.observe(self._dropdown_changed, names="value")

    @property
    def options(self) -> list[tuple[str, str]]:
        """The choices as ``(label, value)`` pairs, as the dropdown shows them."""
        return [(str(label), value) for label, value in self.dropdown.options]

    def on_change(self, callback: Callable[[str | None], object]) -> None:
        """Call ``callback(new_value)`` every time ``value`` changes."""
        self.observe(lambda change: callback(change["new"]), names="value")

    @contextmanager
    def _quietly(self) -> Iterator[None]:
        # Dropdowns select an option of their own when their options change; those echoes
        # must not reach `value` (that is how feedback loops start).
        was_quiet, self._quiet = self._quiet, True
        try:
            yield
        finally:
            self._quiet = was_quiet

    def _dropdown_changed(self, change: dict[str, Any]) -> None:
        if not self._quiet:
            with reported(self.status, f"picker.value = {change['new']!r}"):
                self.value = change["new"]

    def _show_choices(self, options: Options, selected: str | None) -> None:
        """Replace the dropdown's options and select ``selected`` there, without events."""
        values = [value for _, value in options]
        with self._quietly():
            self.dropdown.options = list(options)
            self.dropdown.value = selected if selected in values else None

    @traitlets.observe("value")
    def _value_changed(self, change: dict[str, Any]) -> None:
        new = change["new"]
        values = [value for _, value in self.dropdown.options]
        with self._quietly():
            self.dropdown.value = new if new in values else None
        self._selected(new)

    def _selected(self, value: str | None) -> None:
        """React to a new value (subclasses fetch what depends on it)."""
