"""The pieces under client.pull, without sockets: prefetch, rate limits, progress, PullStats."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from alloy_data.engine._background import prefetch
from alloy_data.engine._concurrency import AdaptiveLimit, RequestRate
from alloy_data.errors import ConfigurationError
from alloy_data.progress import ProgressUpdate, Retrying, check_progress_option, make_reporter
from alloy_data.pull import PullStats, public_parameters


def test_prefetch_keeps_order_and_items() -> None:
    assert list(prefetch(iter(range(1000)), depth=3)) == list(range(1000))


def test_prefetch_reraises_in_order() -> None:
    def source() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("page 3 failed")

    seen = []
    with pytest.raises(ValueError, match="page 3 failed"):
        for item in prefetch(source()):
            seen.append(item)
    assert seen == [1, 2]


def test_prefetch_stops_its_thread_when_the_consumer_stops() -> None:
    produced = []

    def source() -> Iterator[int]:
        for item in range(10_000):
            produced.append(item)
            yield item

    before = threading.active_count()
    iterator = prefetch(source(), depth=2)
    assert next(iterator) == 0
    iterator.close()  # type: ignore[attr-defined]
    assert threading.active_count() == before
    assert len(produced) < 10


def test_request_rate_spaces_requests() -> None:
    rate = RequestRate(200.0)
    started = time.monotonic()
    for _ in range(21):
        rate.wait()
    # 21 requests at 200 per second cannot all start within 100 ms.
    assert time.monotonic() - started >= 0.095


def test_request_rate_is_shared_across_threads() -> None:
    rate = RequestRate(100.0)
    starts: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(5):
            rate.wait()
            with lock:
                starts.append(time.monotonic())

    begun = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    starts.sort()
    assert len(starts) == 20
    # Each request waits for its own 10 ms slot, whichever thread asks: the k-th can start
    # no sooner than k slots after the first could.
    for k, started in enumerate(starts):
        assert started - begun >= k * 0.01


def test_adaptive_limit_halves_then_recovers() -> None:
    limit = AdaptiveLimit(8, recovery=2)
    limit.slow_down()
    assert limit.current == 4
    limit.slow_down()
    limit.slow_down()
    limit.slow_down()
    assert limit.current == 1
    for _ in range(4):
        limit.acquire()
        limit.release()
    assert limit.current == 3
    assert limit.lowest == 1


def test_an_automatic_limit_starts_low_and_grows_while_answers_are_clean() -> None:
    limit = AdaptiveLimit(8, start=2, recovery=None)
    seen = [limit.current]
    for _ in range(40):
        limit.acquire()
        limit.release()
        seen.append(limit.current)
    # one more after as many clean answers as are in flight: 2, 3, ... up to the ceiling
    assert seen[0] == 2
    assert seen == sorted(seen)
    assert seen.index(3) == 2 and seen.index(4) == 5 and seen.index(8) == 27
    assert limit.current == limit.highest == 8


def test_an_automatic_limit_halves_on_429_and_eases_off_on_failures() -> None:
    limit = AdaptiveLimit(8, start=8, recovery=None)
    limit.slow_down()
    assert limit.current == 4
    limit.ease_off()
    assert limit.current == 3
    for _ in range(5):
        limit.ease_off()
    assert limit.current == limit.lowest == 1
    limit.acquire()
    limit.release(success=False)
    assert limit.current == 1


def test_adaptive_limit_bounds_requests_in_flight() -> None:
    limit = AdaptiveLimit(3)
    peak = 0
    in_flight = 0
    lock = threading.Lock()

    def worker() -> None:
        nonlocal peak, in_flight
        limit.acquire()
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        time.sleep(0.01)
        with lock:
            in_flight -= 1
        limit.release()

    threads = [threading.Thread(target=worker) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert peak == 3


@pytest.mark.parametrize(
    "option",
    [None, False, True, "auto", "terminal", print],
    ids=["none", "false", "true", "auto", "terminal", "callable"],
)
def test_progress_options_accepted(option) -> None:
    check_progress_option(option)


@pytest.mark.parametrize("option", ["yes", 3, ["auto"]], ids=["word", "number", "list"])
def test_progress_options_refused(option) -> None:
    with pytest.raises(ConfigurationError, match="progress="):
        check_progress_option(option)
    with pytest.raises(ConfigurationError):
        make_reporter(option)


def test_terminal_bar_counts_records_and_shows_pages() -> None:
    stream = io.StringIO()
    reporter = make_reporter("terminal", description="hubspot list-contacts", file=stream)
    reporter.update(
        ProgressUpdate(
            pages=1,
            records=100,
            records_per_second=100.0,
            retries=0,
            seconds_waited=0.0,
            elapsed=1.0,
        )
    )
    reporter.update(
        ProgressUpdate(
            pages=2,
            records=200,
            records_per_second=100.0,
            retries=2,
            seconds_waited=1.5,
            elapsed=2.0,
            total=300,
            done=True,
        )
    )
    reporter.close()
    text = stream.getvalue()
    assert "hubspot list-contacts" in text
    assert "200/300" in text
    assert "pages=2" in text and "retries=2" in text and "waited=1.5s" in text


def test_every_drawing_of_the_bar_shows_pages_and_records_of_the_same_moment() -> None:
    stream = io.StringIO()
    reporter = make_reporter("terminal", description="pull", file=stream)
    for page in range(1, 13):
        if page % 4 == 0:
            time.sleep(0.25)  # longer than tqdm waits between drawings
        reporter.update(ProgressUpdate(page, page * 100, 100.0, 0, 0.0, page / 10))
    reporter.update(ProgressUpdate(12, 1200, 100.0, 0, 0.0, 1.2, done=True))
    reporter.close()
    drawn = [line for line in stream.getvalue().split("\r") if "pages=" in line]
    assert len(drawn) >= 3
    for line in drawn:
        shown = line.split(" rec")[0].split()[-1]  # "400" or "1.20k"
        records = round(float(shown.rstrip("k")) * (1000 if shown.endswith("k") else 1))
        pages = int(line.split("pages=")[1].rstrip("]\n "))
        assert records == pages * 100, line


def test_silent_reporter_writes_nothing(capsys) -> None:
    reporter = make_reporter(False)
    reporter.update(ProgressUpdate(1, 1, 1.0, 0, 0.0, 1.0))
    reporter.close()
    assert capsys.readouterr() == ("", "")


def test_pull_stats_text() -> None:
    stats = PullStats(
        pages=3,
        records=250,
        requests=5,
        retries=2,
        seconds_waited=1.25,
        elapsed=2.0,
        paginator="cursor",
        stop_reason="max_records",
    )
    text = str(stats)
    assert "250 records in 3 pages" in text
    assert "2 retries (1.2 s waited)" in text or "2 retries (1.3 s waited)" in text
    assert "stopped: max_records" in text
    assert stats.records_per_second == 125.0


def test_public_parameters_mask_secret_names() -> None:
    shown = public_parameters({"limit": 10, "api_key": "k", "AccessToken": "t", "query": "x"})
    assert shown == {"limit": 10, "api_key": "***", "AccessToken": "***", "query": "x"}


# fewer garbage collections while a pull converts


@pytest.mark.parametrize(
    ("concurrency", "rate", "expected"),
    [("auto", None, (8, 2)), ("auto", 3.0, (3, 2)), ("auto", 0.5, (1, 1)), (4, None, (4, 4)),
     (1, None, (1, 1))],
)  # fmt: skip
def test_how_many_requests_a_pull_may_have_in_flight(
    concurrency: Any, rate: float | None, expected: tuple[int, int]
) -> None:
    from alloy_data.options import PullOptions
    from alloy_data.pull import Pull, PullRun

    options = PullOptions(concurrency=concurrency, max_requests_per_second=rate)
    pull = Pull(None, "box", "list-files", credential_id="cred", options=options)  # type: ignore[arg-type]
    assert PullRun(pull)._concurrency_range() == expected


@pytest.mark.parametrize("bad", [0, -1, "many", 2.5, True, None])
def test_a_concurrency_that_is_neither_auto_nor_a_count_is_refused(bad: Any) -> None:
    from alloy_data.options import PullOptions

    with pytest.raises(ConfigurationError, match="concurrency"):
        PullOptions(concurrency=bad)


def test_a_bar_waiting_to_retry_says_why_and_for_how_long() -> None:
    stream = io.StringIO()
    reporter = make_reporter("terminal", description="shopify list-orders", file=stream)
    waiting = Retrying("connection refused", retry=3, max_retries=8, wait=2.0, gives_up_within=95)
    reporter.update(ProgressUpdate(1, 50, 50.0, 2, 1.0, 1.0, retrying=waiting))
    text = stream.getvalue()
    assert "retrying=connection refused: retry 3 of 8 in 2.0 s, giving up within 2 min" in text
    reporter.update(ProgressUpdate(2, 100, 50.0, 3, 3.0, 4.0, done=True))
    reporter.close()
    last = stream.getvalue().split("\r")[-1]
    assert "pages=2" in last and "retrying" not in last


def test_the_explorer_progress_line_says_it_is_retrying() -> None:
    import ipywidgets as widgets

    from alloy_data.widgets._progress import show_figures

    bar, label = widgets.FloatProgress(), widgets.HTML()
    waiting = Retrying("HTTP 503", retry=1, max_retries=8, wait=0.4, gives_up_within=42.0)
    show_figures(bar, label, ProgressUpdate(0, 0, 0.0, 1, 0.4, 0.5, retrying=waiting))
    assert "retrying after HTTP 503: retry 1 of 8 in 0.4 s, giving up within 42 s" in label.value
    show_figures(bar, label, ProgressUpdate(1, 50, 50.0, 1, 0.4, 1.0))
    assert "retrying" not in label.value
