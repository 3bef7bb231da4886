"""Errors cross process boundaries (Dask workers, multiprocessing) as themselves."""

from __future__ import annotations

import pickle

import pytest

from alloy_data import errors


@pytest.mark.parametrize(
    "error",
    [
        errors.PermissionDeniedError(
            "credential belongs to another user",
            status=403,
            request_id="req_1",
            method="POST",
            path="/connectors/x/actions/y/execute",
            attempts=2,
            retry_after=None,
            hint="Check the credential's user",
        ),
        errors.RateLimitError("slow down", status=429, retry_after=1.5),
        errors.ResponseError("cut short", method="GET", path="/users", cut_short=True),
        errors.AlloyTimeoutError("no answer", method="GET", path="/users", attempts=3),
        errors.PaginationError("cursor is an object"),
        errors.ConfigurationError("bad option"),
        errors.ClientClosedError("client closed"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_errors_survive_pickling_with_their_attributes_and_notes(
    error: errors.AlloyError,
) -> None:
    error.add_note("120 records fetched before this are kept")
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert copy.args == error.args
    assert vars(copy) == vars(error)
    assert copy.__notes__ == ["120 records fetched before this are kept"]
