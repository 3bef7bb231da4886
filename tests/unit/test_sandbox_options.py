"""Sandbox options that only shape its memory."""

from __future__ import annotations

import pytest

from alloy_data.sandbox import Sandbox


def test_cache_mb_sizes_the_page_and_record_caches():
    small = Sandbox(cache_mb=1)
    large = Sandbox(cache_mb=256)
    assert large.api.page_cache_bytes == 256 * 1024 * 1024
    assert small.api.page_cache_bytes == 1024 * 1024
    listing = next(iter(large.api.listings.values()))
    assert listing.source.encoded.cache_info().maxsize == 256 * 2_500


def test_cache_mb_must_be_positive():
    with pytest.raises(ValueError, match="cache_mb"):
        Sandbox(cache_mb=0)
