"""The Explorer clicked through in JupyterLab, each step checked in the page's DOM.

Pick a category, a connector, a credential, an action and a parameter; Preview; Pull; Show
code (and run it); Export to Parquet; a new credential through the form. The screenshots of
the documentation are taken on the way (``--screenshots DIR`` keeps them).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pyarrow.parquet as pq
import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser._jupyter import (
    DRAWN_WIDGETS,
    JupyterServer,
    cells,
    kernel_secrets,
    open_notebook,
    output_text,
    page_problems,
    run_all_cells,
    run_cell,
    secrets_on_page,
)

NOTEBOOK = "explorer.ipynb"
SETUP = """\
import alloy_data as ad
from alloy_data.widgets import Explorer

client = ad.connect()
explorer = Explorer(client, preview_rows=5)
explorer"""
STEP_SECONDS = 60

pytestmark = pytest.mark.timeout(600)


@pytest.fixture
def explorer(lab: JupyterServer, page: Page) -> Iterator[Locator]:
    """The Explorer drawn in JupyterLab, from a notebook that makes one."""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(SETUP)])
    notebook.metadata.kernelspec = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    nbformat.write(notebook, lab.root / NOTEBOOK)
    open_notebook(page, lab, NOTEBOOK)
    run_all_cells(page, STEP_SECONDS)
    root = page.locator(".alloy-explorer")
    expect(root).to_be_visible()
    try:
        yield root
    finally:
        lab.shutdown_kernels()


def _select(root: Locator, label: str) -> Locator:
    return root.get_by_label(label, exact=True)


def _choose(root: Locator, label: str, option: str) -> None:
    """Choose ``option`` (as shown) in the dropdown labelled ``label``."""
    _select(root, label).select_option(value=option)


def _shown(select: Locator) -> str:
    """The text of the option a dropdown shows."""
    text: str = select.evaluate(
        "(s) => s.selectedIndex < 0 ? '' : s.options[s.selectedIndex].value"
    )
    return text


def _button(root: Locator, name: str) -> Locator:
    # By its text: an icon's glyph is part of a button's accessible name.
    return root.locator("button").filter(has_text=re.compile(rf"^\s*{re.escape(name)}\s*$"))


def _kernel_says(page: Page, code: str) -> str:
    cell = run_cell(page, code, STEP_SECONDS)
    errors = [o for o in cell["outputs"] if o.get("output_type") == "error"]
    assert not errors, errors
    return output_text(cell).strip()


def test_explorer_clicked_through(
    explorer: Locator, page: Page, lab: JupyterServer, screenshots: Path
) -> None:
    root = explorer
    status = root.locator(".alloy-status")
    bar = root.locator(".progress-bar")
    figures = root.locator(".alloy-progress-label")
    table = root.locator(".alloy-output")

    # A category narrows the connectors; a connector lists its credentials and actions.
    _choose(root, "Category", "Payments")
    connectors = _select(root, "Connector").locator("option")
    expect(connectors).to_have_count(1)
    _choose(root, "Connector", "Stripe (Payments)")
    credential = _select(root, "Credential")
    expect(credential.locator("option")).not_to_have_count(0, timeout=STEP_SECONDS * 1000)
    first_credential = credential.locator("option").first.get_attribute("value")
    assert first_credential and first_credential.startswith("cred_")
    _choose(root, "Credential", first_credential)
    expect(_select(root, "Action")).to_have_value("Charges: list")
    assert "(not listed)" not in _shown(credential)
    assert _kernel_says(page, "print(explorer.credential.value)") in first_credential

    # Preview: the first page in the table, the bar green with the page's figures.
    _button(root, "Preview").click()
    expect(status).to_contain_text("Preview: the first page has", timeout=STEP_SECONDS * 1000)
    caption = table.locator("p").first.inner_text()
    shown = re.fullmatch(r"First page: ([\d,]+) rows?", caption)
    assert shown, caption
    first_page = int(shown[1].replace(",", ""))
    assert 0 < first_page < 1_000
    expect(status).to_have_text(f"Preview: the first page has {first_page:,} records.")
    expect(bar).to_have_class(re.compile(r"\bprogress-bar-success\b"))
    expect(figures).to_contain_text(f"{first_page:,} records · 1 page · ")
    second_id = table.locator("tbody tr").nth(1).locator("td").first.inner_text().strip()
    assert second_id.startswith("ch_")

    # The column picker lists the page's paths; Pull keeps the ones chosen, in their order.
    picker = _select(root, "Columns")
    expect(picker.locator("option").filter(has_text=re.compile(r"^amount$"))).to_have_count(1)
    picker.select_option(["id", "amount"])
    assert _kernel_says(page, "print(explorer.columns.choices()['columns'])") == "['id', 'amount']"
    _button(root, "Pull").click()
    expect(status).to_contain_text("Pulled", timeout=STEP_SECONDS * 1000)
    headers = [h.strip() for h in table.locator("thead th").all_inner_texts()]
    assert [h for h in headers if h] == ["id", "amount"]
    picker.select_option([])
    assert _kernel_says(page, "print(explorer.columns.choices()['columns'])") == "None"

    # An action with a parameter: one charge by its id.
    _choose(root, "Action", "Charges: get")
    charge_id = root.get_by_label("id *", exact=True)
    charge_id.fill(second_id)
    expect(charge_id).to_have_value(second_id)
    assert _kernel_says(page, "print(explorer.action.parameters)") == f"{{'id': '{second_id}'}}"
    _button(root, "Preview").click()
    expect(status).to_have_text(
        "Preview: the first page has 1 record.", timeout=STEP_SECONDS * 1000
    )
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table.locator("tbody tr td").first).to_have_text(second_id)

    # Pull: every page; the bar fills and ends green with the frame's counts.
    _choose(root, "Action", "Charges: list")
    expect(root.get_by_label("id *", exact=True)).to_have_count(0)
    _button(root, "Pull").click()
    expect(status).to_contain_text("Pulled", timeout=STEP_SECONDS * 1000)
    rows, pages = map(
        int,
        _kernel_says(
            page, "print(len(explorer.dataframe), explorer.last_pull.stats.pages)"
        ).split(),
    )
    assert rows > first_page and pages > 1
    expect(bar).to_have_class(re.compile(r"\bprogress-bar-success\b"))
    expect(bar).to_have_attribute("style", re.compile(r"width: 100%"))
    expect(figures).to_contain_text(f"{rows:,} records · {pages:,} pages · ")
    expect(table.locator("p").first).to_have_text(re.compile(rf"^{rows:,} rows, \d+ columns$"))
    root.scroll_into_view_if_needed()
    assert not secrets_on_page(page, kernel_secrets(page))
    root.screenshot(path=screenshots / "explorer.png", animations="disabled")

    # Show code: the code shown, run in the same kernel, gives the same frame.
    _button(root, "Show code").click()
    shown_code = table.locator("pre").first
    expect(shown_code).to_contain_text("import alloy_data as ad", timeout=STEP_SECONDS * 1000)
    code = shown_code.inner_text()
    assert "sk_" not in code and "Bearer" not in code
    same = _kernel_says(
        page,
        code + "\nimport pandas as pd\n"
        "pd.testing.assert_frame_equal(df, explorer.dataframe)\n"
        "print(len(df))",
    )
    assert same.splitlines()[-1] == str(rows)

    # Export to Parquet: the file is there and the status says where.
    root.get_by_label("Parquet file", exact=True).fill("charges.parquet")
    _button(root, "Export to Parquet").click()
    written = lab.root / "charges.parquet"
    expect(status).to_have_text(
        f"Wrote {rows:,} records to {written.resolve()}.", timeout=STEP_SECONDS * 1000
    )
    assert pq.read_metadata(written).num_rows == rows

    # Another user's credential: named as theirs, refused, the bar red; then the user's own
    # again, and Preview ends the bar green with the page's figures.
    theirs = _kernel_says(
        page,
        "other = next(u.user_id for u in client.users.list() if u.user_id != client.user_id)\n"
        'theirs = client.credentials.list("stripe", user_id=other)[0].credential_id\n'
        "explorer.credential.value = theirs\n"
        "print(theirs, other)",
    ).split()
    expect(credential).to_have_value(
        re.compile(rf"^{theirs[0]} \(created .*\) · user {theirs[1]}$"),
        timeout=STEP_SECONDS * 1000,
    )
    _button(root, "Preview").click()
    expect(status).to_contain_text("Permission denied", timeout=STEP_SECONDS * 1000)
    expect(bar).to_have_class(re.compile(r"\bprogress-bar-danger\b"))
    _choose(root, "Credential", first_credential)
    _button(root, "Preview").click()
    expect(status).to_have_text(
        f"Preview: the first page has {first_page:,} records.", timeout=STEP_SECONDS * 1000
    )
    expect(bar).to_have_class(re.compile(r"\bprogress-bar-success\b"))
    expect(figures).to_contain_text(f"{first_page:,} records · 1 page · ")

    # New credential: the form; a missing required field is a message, not a traceback.
    picker = root.locator(".alloy-credential-picker")
    picker_status = picker.locator(".alloy-picker-status")
    form = picker.locator(".alloy-credential-form")
    expect(form).to_be_hidden()
    _button(picker, "New credential").click()
    expect(form).to_be_visible(timeout=STEP_SECONDS * 1000)
    secret_box = form.get_by_label("api_key *", exact=True)
    expect(secret_box).to_have_attribute("type", "password")
    _button(form, "Create").click()
    expect(picker_status).to_have_text(
        "Fill in the required fields first: api_key.", timeout=STEP_SECONDS * 1000
    )
    assert "Traceback" not in page.inner_text("body")
    secret_box.fill("sk_test_browser")
    _button(form, "Create").click()
    expect(picker_status).to_contain_text("Created credential", timeout=STEP_SECONDS * 1000)
    created = picker_status.inner_text().split("Created credential ")[1].rstrip(".")
    expect(credential).to_have_value(re.compile(re.escape(created)))
    expect(form).to_be_hidden()
    assert created != first_credential
    assert "sk_test_browser" not in page.content()

    # An error no one foresaw, raised by a click, shows in the status line.
    _kernel_says(page, "explorer.client.actions.get = lambda *args, **kwargs: 1 / 0")
    _button(root, "Preview").click()
    expect(status).to_have_text(
        "Unexpected ZeroDivisionError: division by zero. Run explorer.preview() in a cell to "
        "see the traceback.",
        timeout=STEP_SECONDS * 1000,
    )
    expect(bar).to_have_class(re.compile(r"\bprogress-bar-danger\b"))
    _kernel_says(page, "del explorer.client.actions.get")

    notebook_cells = cells(page)
    assert not page_problems(page, notebook_cells)
    assert not secrets_on_page(page, kernel_secrets(page))


def test_progress_bar_of_a_pull(lab: JupyterServer, page: Page, screenshots: Path) -> None:
    notebook = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                "import alloy_data as ad\n\n"
                "client = ad.connect()\n"
                'credential = client.credentials.list("hubspot", user_id=client.user_id)[0]\n'
                'pull = client.pull("hubspot", "list-contacts", '
                "credential_id=credential.credential_id)\n"
                "contacts = pull.to_dataframe()"
            ),
            nbformat.v4.new_code_cell("print(pull.stats.records, pull.stats.pages)"),
        ]
    )
    notebook.metadata.kernelspec = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(notebook, lab.root / "progress.ipynb")
    try:
        open_notebook(page, lab, "progress.ipynb")
        run_all_cells(page, STEP_SECONDS)
        ran = cells(page)
        assert not page_problems(page, ran)
        records, pages = map(int, output_text(ran[1]).split())
        bar = page.locator(DRAWN_WIDGETS).first
        expect(bar.locator(".widget-hprogress")).to_be_visible()
        expect(bar).to_contain_text(f"hubspot list-contacts: {records / 1000:.2f}k")
        expect(bar).to_contain_text(f"pages={pages}]")
        expect(bar.locator(".progress-bar")).to_have_class(re.compile(r"\bprogress-bar-success\b"))
        assert not secrets_on_page(page, kernel_secrets(page))
        bar.screenshot(path=screenshots / "progress.png", animations="disabled")
    finally:
        lab.shutdown_kernels()


ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ["explorer.png", "progress.png"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("name", SCREENSHOTS)
def test_the_docs_show_each_screenshot_and_it_is_small(name: str) -> None:
    image = ROOT / "docs" / "images" / name
    assert image.read_bytes().startswith(PNG_SIGNATURE), f"{name}: run `make screenshots`"
    assert image.stat().st_size < 300_000
    assert f"](images/{name})" in (ROOT / "docs" / "widgets.md").read_text(encoding="utf-8")


def test_the_readme_shows_the_explorer() -> None:
    assert "](docs/images/explorer.png)" in (ROOT / "README.md").read_text(encoding="utf-8")
