"""The connectors the sandbox offers: resources, actions, parameters, credential requirements.

Ids, names and categories here are relied on by tests and docs; change them only on purpose.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from alloy_data.sandbox import filters, paging, records, stamps
from alloy_data.sandbox.filters import Since
from alloy_data.sandbox.ids import RecordIds
from alloy_data.sandbox.params import Param
from alloy_data.sandbox.stamps import TimeFields

#: The orders a list action serves its records in.
ORDERS = ("id", "created_desc", "updated_desc")

#: Unpaginated resources answer everything at once, so their size is capped.
UNPAGINATED_MAXIMUM = 50


@dataclass(frozen=True)
class Action:
    """One action of a connector, e.g. ``list-orders``."""

    action_id: str
    verb: str  # "list", "get" or "create"
    resource_id: str
    display_name: str
    description: str
    http_method: str
    path: str
    params: tuple[Param, ...]
    convention: paging.Convention | None = None

    def body_params(self) -> tuple[Param, ...]:
        """Return the parameters the live API sends in the request body."""
        return tuple(param for param in self.params if param.location == "body")

    def request_body_schema(self) -> dict[str, Any] | None:
        """Return the JSON Schema of the live request body, or None when there is none."""
        body = self.body_params()
        if not body:
            return None
        return {
            "type": "object",
            "properties": {param.name: param.schema() for param in body},
            "required": [param.name for param in body if param.required],
        }


@dataclass(frozen=True)
class Resource:
    """A kind of record in an app, e.g. Shopify ``orders``."""

    resource_id: str
    name: str
    description: str
    generator: records.Generator
    ids: RecordIds
    default_count: int
    # The app's body around one record for get/create answers: (before, after).
    wrap_one: tuple[bytes, bytes] = (b"", b"")
    wrap_created: tuple[bytes, bytes] = (b"", b"")
    actions: tuple[Action, ...] = ()
    #: Where records carry their times; None for records with none (the clock skips them).
    times: TimeFields | None = None
    #: "id" (ascending, the generated order), "created_desc" (newest first; creation times
    #: rise with the id) or "updated_desc" (most recently edited first).
    order: str = "id"
    #: The list action's updated-since (or created-since) filter, if the app has one.
    since: Since | None = None
    # What the app's own API reference says of some fields, beyond their JSON type, by
    # dotted path: added to the record schema that list actions declare.
    schema_marks: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()

    def verbs(self) -> list[str]:
        """Return the action names (``list``, ``get``, ``create``) this resource supports."""
        return [action.verb for action in self.actions]

    def record_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        """Return ``schema`` (a JSON Schema of one record) with the app's marks added."""
        for path, marks in self.schema_marks:
            node = schema
            for part in path.split("."):
                node = node.get("properties", {}).get(part, {})
            if node:
                node.update(marks)
        return schema


@dataclass(frozen=True)
class CredentialField:
    """One field a credential of a connector needs."""

    name: str
    description: str
    required: bool = True
    sample: str = ""


@dataclass(frozen=True)
class Connector:
    """A third-party app."""

    connector_id: str
    name: str
    category: str
    auth_type: str  # "oauth2", "api_key" or "basic"
    credential_fields: tuple[CredentialField, ...]
    resources: tuple[Resource, ...] = field(default_factory=tuple)

    @property
    def icon_url(self) -> str:
        """The connector's icon."""
        return f"https://assets.runalloy.com/icons/{self.connector_id}.png"

    def actions(self) -> list[Action]:
        """Return every action of every resource."""
        return [action for resource in self.resources for action in resource.actions]


def _title(text: str) -> str:
    return text.replace("_", " ").title()


def _resource(
    *,
    resource_id: str,
    name: str,
    description: str,
    generator: records.Generator,
    ids: RecordIds,
    default_count: int,
    base_path: str,
    convention: paging.Convention,
    id_param: Param | None = None,
    create_params: tuple[Param, ...] = (),
    wrap_one: tuple[bytes, bytes] = (b"", b""),
    wrap_created: tuple[bytes, bytes] | None = None,
    times: TimeFields | None = None,
    order: str = "id",
    since: Since | None = None,
    order_words: str = "",
    schema_marks: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (),
) -> Resource:
    singular = name.rstrip("s").lower()
    list_params = convention.params() + ((since.param,) if since is not None else ())
    actions = [
        Action(
            action_id=f"list-{resource_id}",
            verb="list",
            resource_id=resource_id,
            display_name=f"List {name}",
            description=f"Retrieve a page of {name.lower()}{order_words}",
            http_method="GET",
            path=base_path,
            params=list_params,
            convention=convention,
        )
    ]
    if id_param is not None:
        actions.append(
            Action(
                action_id=f"get-{resource_id}",
                verb="get",
                resource_id=resource_id,
                display_name=f"Get {_title(singular)}",
                description=f"Retrieve one {singular} by its id",
                http_method="GET",
                path=f"{base_path}/{{{id_param.name}}}",
                params=(id_param,),
            )
        )
    if create_params:
        actions.append(
            Action(
                action_id=f"create-{resource_id}",
                verb="create",
                resource_id=resource_id,
                display_name=f"Create {_title(singular)}",
                description=f"Create a {singular}",
                http_method="POST",
                path=base_path,
                params=create_params,
            )
        )
    return Resource(
        resource_id=resource_id,
        name=name,
        description=description,
        generator=generator,
        ids=ids,
        default_count=default_count,
        wrap_one=wrap_one,
        wrap_created=wrap_created or wrap_one,
        actions=tuple(actions),
        times=times,
        order=order,
        since=since,
        schema_marks=schema_marks,
    )


def _path_id(name: str, description: str, kind: str = "string") -> Param:
    return Param(name, kind, description, required=True, location="path")


def _body(name: str, kind: str, description: str, required: bool = False) -> Param:
    return Param(name, kind, description, required=required, location="body")


# Stripe's API reference (its OpenAPI description) declares every `created` so.
_STRIPE_CREATED = (
    (
        "created",
        (
            ("format", "unix-time"),
            (
                "description",
                "Time at which the object was created. Measured in seconds since the Unix epoch.",
            ),
        ),
    ),
)


def build_catalog() -> dict[str, Connector]:
    """Return the connectors by id, in display order."""
    connectors = [
        Connector(
            "shopify",
            "Shopify",
            "E-Commerce",
            "oauth2",
            (
                CredentialField(
                    "shop_domain", "Your Shopify store domain", sample="mystore.myshopify.com"
                ),
            ),
            (
                _resource(
                    resource_id="orders",
                    name="Orders",
                    description="Shopify order management",
                    generator=records.shopify_order,
                    ids=RecordIds("digits", prefix="gid://shopify/Order/", start=5_100_000_000),
                    default_count=1_200,
                    base_path="/admin/api/2024-07/graphql.json#orders",
                    convention=paging.RelayCursor("orders"),
                    id_param=_path_id("id", "The order's id (gid://shopify/Order/...)"),
                    create_params=(
                        _body("email", "string", "The customer's email", required=True),
                        _body("line_items", "array", "Line items: {title, quantity, price}"),
                        _body("note", "string", "A note on the order"),
                    ),
                    wrap_one=(b'{"data":{"order":', b"}}"),
                    wrap_created=(b'{"data":{"orderCreate":{"order":', b',"userErrors":[]}}}'),
                    times=stamps.SHOPIFY_ORDERS,
                    since=filters.SHOPIFY_UPDATED_AT_MIN,
                ),
                _resource(
                    resource_id="locations",
                    name="Locations",
                    description="The store's warehouses and shops",
                    generator=records.shopify_location,
                    ids=RecordIds("digits", prefix="gid://shopify/Location/", start=70_000_000),
                    default_count=5,
                    base_path="/admin/api/2024-07/locations.json",
                    convention=paging.Unpaginated("locations"),
                ),
            ),
        ),
        Connector(
            "hubspot",
            "HubSpot",
            "CRM",
            "oauth2",
            (),
            (
                _resource(
                    resource_id="contacts",
                    name="Contacts",
                    description="CRM contacts",
                    generator=records.hubspot_contact,
                    ids=RecordIds("digits", start=1_001),
                    default_count=2_500,
                    base_path="/crm/v3/objects/contacts",
                    convention=paging.BodyCursor("/crm/v3/objects/contacts"),
                    id_param=_path_id("contactId", "The contact's id"),
                    create_params=(
                        _body("properties", "object", "Contact properties", required=True),
                    ),
                    times=stamps.HUBSPOT_CONTACTS,
                ),
                _resource(
                    resource_id="companies",
                    name="Companies",
                    description="CRM companies",
                    generator=records.hubspot_company,
                    ids=RecordIds("digits", start=9_001),
                    default_count=400,
                    base_path="/crm/v3/objects/companies",
                    convention=paging.BodyCursor(
                        "/crm/v3/objects/companies", paging.HUBSPOT_LIMIT_TERSE
                    ),
                    id_param=_path_id("companyId", "The company's id"),
                    times=stamps.HUBSPOT_COMPANIES,
                ),
            ),
        ),
        Connector(
            "stripe",
            "Stripe",
            "Payments",
            "api_key",
            (
                CredentialField(
                    "api_key", "A Stripe secret or restricted key", sample="sk_test_123"
                ),
            ),
            (
                _resource(
                    resource_id="charges",
                    name="Charges",
                    description="Card charges",
                    generator=records.stripe_charge,
                    ids=RecordIds("stripe", prefix="ch_"),
                    default_count=1_000,
                    base_path="/v1/charges",
                    convention=paging.LastId("/v1/charges"),
                    id_param=_path_id("id", "The charge's id (ch_...)"),
                    schema_marks=_STRIPE_CREATED,
                    create_params=(
                        _body("amount", "integer", "Amount in the smallest currency unit", True),
                        _body("currency", "string", "Three-letter ISO currency code", True),
                        _body("description", "string", "An arbitrary description"),
                    ),
                    times=stamps.STRIPE_CREATED_ONLY,
                    order="created_desc",
                    order_words=", most recent first",
                    since=filters.STRIPE_CREATED_GTE,
                ),
                _resource(
                    resource_id="customers",
                    name="Customers",
                    description="Customers",
                    generator=records.stripe_customer,
                    ids=RecordIds("stripe", prefix="cus_"),
                    default_count=300,
                    base_path="/v1/customers",
                    convention=paging.LastId("/v1/customers"),
                    id_param=_path_id("id", "The customer's id (cus_...)"),
                    times=stamps.STRIPE_CREATED_ONLY,
                    schema_marks=_STRIPE_CREATED,
                ),
            ),
        ),
        Connector(
            "zendesk",
            "Zendesk",
            "Support",
            "basic",
            (
                CredentialField("subdomain", "Your Zendesk subdomain", sample="acme"),
                CredentialField("email", "The agent's email", sample="agent@example.com"),
                CredentialField("api_token", "A Zendesk API token", sample="token123"),
            ),
            (
                _resource(
                    resource_id="tickets",
                    name="Tickets",
                    description="Support tickets",
                    generator=records.zendesk_ticket,
                    ids=RecordIds("int", start=1),
                    default_count=750,
                    base_path="/api/v2/tickets.json",
                    convention=paging.NextLink("tickets", "/api/v2/tickets.json"),
                    id_param=_path_id("ticket_id", "The ticket's id", "integer"),
                    create_params=(
                        _body("subject", "string", "The ticket's subject", required=True),
                        _body("description", "string", "The first comment"),
                        _body("priority", "string", "low, normal, high or urgent"),
                    ),
                    times=stamps.ZENDESK_TICKETS,
                    wrap_one=(b'{"ticket":', b"}"),
                ),
            ),
        ),
        Connector(
            "box",
            "Box",
            "Files",
            "oauth2",
            (),
            (
                _resource(
                    resource_id="files",
                    name="Files",
                    description="Files in the enterprise's folders",
                    generator=records.box_file,
                    ids=RecordIds("digits", start=1_200_000_000),
                    default_count=500,
                    base_path="/2.0/files",
                    convention=paging.OffsetLimit(),
                    id_param=_path_id("file_id", "The file's id"),
                    create_params=(
                        _body("name", "string", "The file's name", required=True),
                        _body("parent", "object", "The folder: {id}"),
                    ),
                    times=stamps.BOX_FILES,
                ),
            ),
        ),
        Connector(
            "xero",
            "Xero",
            "Accounting",
            "oauth2",
            (CredentialField("tenant_id", "The Xero organisation (tenant) id", required=False),),
            (
                _resource(
                    resource_id="invoices",
                    name="Invoices",
                    description="Sales and purchase invoices",
                    generator=records.xero_invoice,
                    ids=RecordIds("uuid", prefix="xero.invoices"),
                    default_count=600,
                    base_path="/api.xro/2.0/Invoices",
                    convention=paging.PageNumber("Invoices"),
                    id_param=_path_id("InvoiceID", "The invoice's id (a GUID)"),
                    create_params=(
                        _body("Type", "string", "ACCREC or ACCPAY", required=True),
                        _body("Contact", "object", "The contact: {ContactID} or {Name}", True),
                        _body("LineItems", "array", "Line items"),
                    ),
                    wrap_one=(b'{"Invoices":[', b"]}"),
                    times=stamps.XERO_INVOICES,
                ),
            ),
        ),
        Connector(
            "quickbooks",
            "QuickBooks Online",
            "Accounting",
            "oauth2",
            (CredentialField("realm_id", "The QuickBooks company (realm) id", required=False),),
            (
                _resource(
                    resource_id="customers",
                    name="Customers",
                    description="Customers of the company",
                    generator=records.quickbooks_customer,
                    ids=RecordIds("digits", start=1),
                    default_count=230,
                    base_path="/v3/company/{realmId}/query#Customer",
                    convention=paging.AlloyOffset(),
                    id_param=_path_id("id", "The customer's Id"),
                    create_params=(
                        _body("DisplayName", "string", "The name shown in lists", required=True),
                        _body("PrimaryEmailAddr", "object", "{Address}"),
                    ),
                    wrap_one=(b'{"Customer":', b"}"),
                    times=stamps.QUICKBOOKS_CUSTOMERS,
                ),
            ),
        ),
        Connector(
            "notion",
            "Notion",
            "Productivity",
            "oauth2",
            (),
            (
                _resource(
                    resource_id="pages",
                    name="Pages",
                    description="Pages shared with the integration",
                    generator=records.notion_page,
                    ids=RecordIds("uuid", prefix="notion.pages"),
                    default_count=180,
                    base_path="/v1/search#pages",
                    convention=paging.NotionCursor(),
                    id_param=_path_id("page_id", "The page's id"),
                    create_params=(
                        _body("parent", "object", "{database_id} or {page_id}", required=True),
                        _body("properties", "object", "The page's properties", required=True),
                    ),
                    times=stamps.NOTION_PAGES,
                    order="updated_desc",
                    order_words=", most recently edited first (sorted by last_edited_time)",
                ),
            ),
        ),
    ]
    return {connector.connector_id: connector for connector in connectors}
