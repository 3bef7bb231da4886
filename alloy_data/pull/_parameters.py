"""The names in ``parameters=``, checked against the parameters the action declares.

An app ignores a parameter it does not know, so a misspelt filter (``updated_sinc``) returns
every record without a word. The names are checked once the action's details are known, before
the first page is requested.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from alloy_data.errors import ConfigurationError
from alloy_data.models import Action
from alloy_data.pagination import PAGING_PARAMETERS

__all__ = ["check_parameter_names", "declared_parameter_names"]


def declared_parameter_names(action: Action) -> frozenset[str] | None:
    """The parameter names the action's details declare, in either dialect.

    The contract's (and the live API's) ``parameters`` list, and the properties of the live
    API's ``requestBody`` JSON Schema.

    Returns:
        The names, or None when the details declare none, or a request body that takes any
        name (a schema without ``properties``, or with ``additionalProperties``).
    """
    names = {parameter.name for parameter in action.parameters}
    body = action.request_body
    if body is not None:
        properties = body.get("properties")
        if not isinstance(properties, Mapping) or body.get("additionalProperties") not in (
            None,
            False,
        ):
            return None
        names.update(str(name) for name in properties)
    return frozenset(names) or None


def _paginator_names(paginator: Any) -> set[str]:
    """The request parameters a paginator set by hand sends (its ``*_parameter`` settings)."""
    return {
        value
        for name, value in vars(paginator).items()
        if name.endswith("_parameter") and isinstance(value, str)
    }


def _closest(name: str, declared: Iterable[str]) -> list[str]:
    """The declared names most like ``name``: spelt alike, or alike but for case and ``_``."""
    choices = sorted(declared)
    folded = name.replace("_", "").replace("-", "").lower()
    same = [c for c in choices if c.replace("_", "").replace("-", "").lower() == folded]
    alike = difflib.get_close_matches(name, choices, n=3, cutoff=0.6)
    return list(dict.fromkeys([*same, *alike]))[:3]


def check_parameter_names(
    action: Action,
    connector_id: str,
    parameters: Mapping[str, Any],
    *,
    undeclared: str,
    paginator: Any = None,
    filter_parameter: str | None = None,
) -> list[str]:
    """Refuse names in ``parameters`` (and a filter parameter named by hand) that the action
    does not declare, unless ``undeclared == "send"``.

    Paging parameters are never refused: the paginator sets them, whether or not the action's
    details list them.

    Args:
        action: The action's details.
        connector_id: The action's connector, for the message.
        parameters: The caller's parameters.
        undeclared: ``"refuse"`` or ``"send"`` (the pull's ``undeclared_parameters``).
        paginator: The paginator set by hand, if any; the names it sends are paging names.
        filter_parameter: ``Incremental(parameter=...)``, if given.

    Returns:
        Notes for ``stats.notes``: names sent although undeclared, or that nothing was
        checked because the action declares no parameters.

    Raises:
        ConfigurationError: For an undeclared name, naming the closest declared ones and how
            to send it on purpose.
    """
    given = [name for name in parameters if name not in PAGING_PARAMETERS]
    if paginator is not None and not isinstance(paginator, str):
        paging = _paginator_names(paginator)
        given = [name for name in given if name not in paging]
    if filter_parameter is not None and filter_parameter not in given:
        given.append(filter_parameter)
    if not given:
        return []
    declared = declared_parameter_names(action)
    if declared is None:
        return [
            f"parameters: the details of {action.action_id!r} declare no parameter list, so "
            f"the names {', '.join(map(repr, given))} were sent unchecked"
        ]
    unknown = [name for name in given if name not in declared]
    if not unknown:
        return []
    if undeclared == "send":
        return [
            f"parameters: sent {', '.join(map(repr, unknown))}, which {action.action_id!r} "
            "does not declare (undeclared_parameters='send')"
        ]
    raise ConfigurationError(_refusal(action, connector_id, unknown, declared, filter_parameter))


def _refusal(
    action: Action,
    connector_id: str,
    unknown: list[str],
    declared: Collection[str],
    filter_parameter: str | None,
) -> str:
    lines = []
    for name in unknown:
        closest = _closest(name, declared)
        guess = f" Did you mean {' or '.join(map(repr, closest))}?" if closest else ""
        lines.append(f"{name!r} is not a parameter of {connector_id} {action.action_id}.{guess}")
    where = (
        "Incremental(parameter=...)"
        if unknown == [filter_parameter]
        else "the parameters= of your pull"
    )
    return (
        f"{' '.join(lines)} It declares: {', '.join(sorted(declared))}. An app may ignore a "
        "name it does not know and send every record, so nothing was fetched. Correct the "
        f"name in "
        f"{where}, or, to send a name the action does not declare on purpose, build the pull "
        "with undeclared_parameters='send'."
    )
