"""The pull's options: built once, checked once, immutable, and the same at every entry point."""

from __future__ import annotations

import inspect
import pickle
from typing import Any

import pytest

import alloy_data as ad
from alloy_data.errors import ConfigurationError
from alloy_data.http import RetryPolicy
from alloy_data.options import (
    MANY_OPTION_NAMES,
    OPTION_DOCS,
    PULL_OPTION_NAMES,
    ManyOptions,
    PullOptions,
)

#: A value other than the default for every option, to see it arrive.
NOT_DEFAULT: dict[str, Any] = {
    "parameters": {"status": "open"},
    "undeclared_parameters": "send",
    "paginator": "offset",
    "page_size": 7,
    "max_pages": 3,
    "max_records": 11,
    "concurrency": 2,
    "max_requests_per_second": 5.0,
    "retries": 1,
    "incremental": ad.Incremental(cursor_field="updated_at", primary_key="id"),
    "timestamps": "off",
    "columns": ["id", "updated_at", "customer.email"],
    "flatten": "struct",
    "flatten_depth": 2,
    "max_age": "1h",
    "progress": False,
    "workers": 3,
    "on_error": "raise",
    "user_column": "user",
    "credential_column": "credential",
    "max_total_requests_per_second": 9.0,
}


def test_every_option_has_a_value_to_try_and_shared_words() -> None:
    assert set(NOT_DEFAULT) == {*PULL_OPTION_NAMES, *MANY_OPTION_NAMES}
    assert set(OPTION_DOCS) == {*PULL_OPTION_NAMES, *MANY_OPTION_NAMES}


def _entry_points() -> dict[str, tuple[Any, set[str]]]:
    """Each notebook entry point and the options it must take."""
    from alloy_data import dask as alloy_dask
    from alloy_data.widgets import Explorer

    every = {*PULL_OPTION_NAMES, *MANY_OPTION_NAMES}
    return {
        "client.pull": (ad.AlloyClient.pull, set(PULL_OPTION_NAMES)),
        "client.pull_many": (ad.AlloyClient.pull_many, every),
        "Explorer.pull": (Explorer.pull, every),
        "dask.read_pull": (alloy_dask.read_pull, every),
        "dask.read_tables": (alloy_dask.read_tables, every),
    }


@pytest.mark.parametrize(
    "name",
    ["client.pull", "client.pull_many", "Explorer.pull", "dask.read_pull", "dask.read_tables"],
)
def test_every_entry_point_takes_every_option_by_keyword(name: str) -> None:
    function, wanted = _entry_points()[name]
    parameters = inspect.signature(function).parameters
    missing = sorted(wanted - set(parameters))
    assert not missing, f"{name} lacks {missing}"
    for option in wanted:
        assert parameters[option].kind is inspect.Parameter.KEYWORD_ONLY, option


@pytest.mark.parametrize(
    "name",
    ["client.pull", "client.pull_many", "Explorer.pull", "dask.read_pull", "dask.read_tables"],
)
def test_every_entry_point_shows_every_option_in_its_docstring(name: str) -> None:
    function, wanted = _entry_points()[name]
    doc = inspect.getdoc(function) or ""
    for option in wanted:
        assert f"\n    {option}: " in doc, f"{name}'s docstring does not describe {option}"


@pytest.mark.parametrize(
    "name",
    ["client.pull", "client.pull_many", "Explorer.pull", "dask.read_pull", "dask.read_tables"],
)
def test_every_entry_point_has_the_same_defaults(name: str) -> None:
    function, wanted = _entry_points()[name]
    parameters = inspect.signature(function).parameters
    defaults = {
        **{f: getattr(PullOptions(), f) for f in PULL_OPTION_NAMES},
        **{f: getattr(ManyOptions(), f) for f in MANY_OPTION_NAMES},
    }
    defaults["parameters"] = None
    for option in wanted:
        assert parameters[option].default == defaults[option], (name, option)


def test_the_options_check_everything_once_and_say_what_to_do() -> None:
    with pytest.raises(ConfigurationError, match="page_size must be a positive whole number"):
        PullOptions(page_size=0)
    with pytest.raises(ConfigurationError, match='concurrency must be "auto"'):
        PullOptions(concurrency=None)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="Unknown paginator"):
        PullOptions(paginator="sideways")
    with pytest.raises(ConfigurationError, match="timestamps must be"):
        PullOptions(timestamps="sometimes")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="JSON cannot carry"):
        PullOptions(parameters={"since": object()})
    with pytest.raises(ConfigurationError, match="on_error"):
        ManyOptions(on_error="ignore")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="must differ"):
        ManyOptions(user_column="x", credential_column="x")


def test_the_options_are_immutable_and_keep_their_own_copy_of_the_parameters() -> None:
    given = {"filter": {"status": ["open"]}}
    options = PullOptions(parameters=given)
    given["filter"]["status"].append("closed")
    assert options.parameters == {"filter": {"status": ["open"]}}
    with pytest.raises(TypeError):
        options.parameters["filter"] = {}  # type: ignore[index]
    with pytest.raises(AttributeError):
        options.page_size = 5  # type: ignore[misc]
    assert options.replace(page_size=5).page_size == 5
    assert options.page_size is None


def test_the_options_pickle_for_the_workers_of_a_cluster() -> None:
    options = PullOptions(
        parameters={"a": [1, 2]},
        retries=RetryPolicy(max_retries=2),
        incremental=ad.Incremental(cursor_field="updated_at", primary_key="id"),
        progress=False,
    )
    assert pickle.loads(pickle.dumps(options)) == options


def test_client_pull_and_pull_many_hand_down_every_option() -> None:
    client = ad.AlloyClient("sk_test_options", base_url="http://127.0.0.1:9")
    pull_values = {name: NOT_DEFAULT[name] for name in PULL_OPTION_NAMES}
    many_values = {name: NOT_DEFAULT[name] for name in MANY_OPTION_NAMES}
    pull = client.pull("shop", "list-orders", credential_id="cred", **pull_values)
    assert pull.options == PullOptions(**pull_values)
    many = client.pull_many(
        "shop", "list-orders", credentials=["cred"], **pull_values, **many_values
    )
    assert many.options == PullOptions(**pull_values)
    assert many.many_options == ManyOptions(**many_values)
    client.close()


def _command_line(option: str, value: Any) -> list[str]:
    """The words of ``alloy-data pull`` that give ``option`` the value ``value``."""
    from alloy_data.cli import OPTION_FLAGS

    flag = OPTION_FLAGS[option]
    if option == "parameters":
        return [word for key, item in value.items() for word in (flag, f"{key}={item}")]
    if option == "incremental":
        return [flag, value.cursor_field, "--primary-key", value.primary_key]
    if option == "columns":
        return [flag, ",".join(value)]
    if option == "progress":
        assert value is False  # the command line's only other choice is its default bar
        return [flag]
    return [flag, str(value)]


def _options_of(*words: str) -> tuple[PullOptions, ManyOptions]:
    from alloy_data.cli import options_from_args, parse_args

    return options_from_args(parse_args(["pull", "shop", "list-orders", "--out", "x", *words]))


def test_the_command_line_has_a_flag_for_every_option() -> None:
    from alloy_data.cli import OPTION_FLAGS

    assert set(OPTION_FLAGS) == {*PULL_OPTION_NAMES, *MANY_OPTION_NAMES}
    assert len(set(OPTION_FLAGS.values())) == len(OPTION_FLAGS)


def test_the_command_line_s_defaults_are_the_options_own_but_a_terminal_bar() -> None:
    assert _options_of() == (PullOptions(progress="terminal"), ManyOptions())


@pytest.mark.parametrize("option", sorted({*PULL_OPTION_NAMES, *MANY_OPTION_NAMES}))
def test_each_flag_hands_its_option_down_and_nothing_else(option: str) -> None:
    options, many = _options_of(*_command_line(option, NOT_DEFAULT[option]))
    if option in PULL_OPTION_NAMES:
        assert options == PullOptions(progress="terminal").replace(**{option: NOT_DEFAULT[option]})
        assert many == ManyOptions()
    else:
        assert options == PullOptions(progress="terminal")
        assert many == ManyOptions(**{option: NOT_DEFAULT[option]})


def test_a_command_line_with_every_flag_gives_the_options_built_from_its_values() -> None:
    words = [w for name in NOT_DEFAULT for w in _command_line(name, NOT_DEFAULT[name])]
    options, many = _options_of(*words)
    assert options == PullOptions(**{name: NOT_DEFAULT[name] for name in PULL_OPTION_NAMES})
    assert many == ManyOptions(**{name: NOT_DEFAULT[name] for name in MANY_OPTION_NAMES})
