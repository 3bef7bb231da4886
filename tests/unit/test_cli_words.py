"""The library's advice rewritten into the command line's words."""

from __future__ import annotations

import pytest

from alloy_data.cli import OPTION_FLAGS
from alloy_data.cli._words import in_cli_words


@pytest.mark.parametrize(
    ("library", "cli"),
    [
        ("Pass overwrite=True to replace it", "Pass --overwrite to replace it"),
        ("run the same export with resume=True to continue", "run the same command with --resume"),
        ("client.connectors.list() lists them", "alloy-data connectors lists them"),
        ("client.connectors.actions('shopify') lists", "alloy-data resources shopify lists"),
        ("client.actions.get(connector_id, action_id)", "alloy-data action CONNECTOR ACTION"),
        ("client.credentials.list('box', user_id=...) lists",
         "alloy-data credentials box --user USER_ID lists"),
        ("client.users.list() finds", "alloy-data users finds"),
        ("(base_url= or ALLOY_BASE_URL)", "(--base-url or ALLOY_BASE_URL)"),
        ("(argument base_url or ALLOY_BASE_URL)", "(--base-url or ALLOY_BASE_URL)"),
        ("pass AlloyClient(api_key=...) or set", "pass --api-key or set"),
        ("page_size must be a positive whole number or None, not 0.",
         "--page-size must be a positive whole number, not 0."),
        ("Stopped at max_records=30 on page 2", "Stopped at --max-records 30 on page 2"),
        ("by hand (paginator='cursor' or a configured instance such as "
         "CursorPaginator(cursor_parameter=..., cursor_path=...)).",
         "by hand (--paginator cursor)."),
        ("name it: Incremental(..., parameter='...').", "name it: --filter-parameter NAME."),
        ("lower the concurrency of your pulls", "lower the concurrency of your pulls"),
    ],
    ids=lambda value: value[:30],
)  # fmt: skip
def test_library_advice_becomes_commands_and_flags(library: str, cli: str) -> None:
    assert cli in in_cli_words(library)


@pytest.mark.parametrize("name", sorted(set(OPTION_FLAGS) - {"progress"}))
def test_every_option_with_a_value_becomes_its_flag(name: str) -> None:
    assert in_cli_words(f"got {name}=7.") == f"got {OPTION_FLAGS[name]} 7."
