"""Notebook widgets: pick a connector, a credential and an action, then preview, pull, export.

>>> import alloy_data as ad
>>> from alloy_data.widgets import Explorer
>>> client = ad.connect()  # doctest: +SKIP
>>> explorer = Explorer(client)  # doctest: +SKIP
>>> explorer  # doctest: +SKIP

Every picker is an ``ipywidgets`` box with a ``value`` trait, ``options``, ``observe`` and
``on_change``. Errors from the API show in each widget's status line; they are never raised
into the notebook's front end.
"""

from alloy_data.widgets._actions import PAGING_PARAMETERS, ActionPicker
from alloy_data.widgets._columns import ColumnPicker
from alloy_data.widgets._explorer import Explorer
from alloy_data.widgets._pickers import ConnectorPicker, CredentialPicker

__all__ = [
    "PAGING_PARAMETERS",
    "ActionPicker",
    "ColumnPicker",
    "ConnectorPicker",
    "CredentialPicker",
    "Explorer",
]
