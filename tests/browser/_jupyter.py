"""A Jupyter server on loopback, and what a test does with a notebook open in the browser."""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import requests
from playwright.sync_api import Page

Frontend = Literal["lab", "notebook"]

#: What a key, masked or not, or an authorization header looks like on a page.
SECRET_PATTERNS = [re.compile(r"sk_sandbox_[A-Za-z0-9]"), re.compile(r"Bearer\s")]
#: What ipywidgets shows instead of a widget it could not draw.
WIDGET_FAILURES = ["Error displaying widget", "Model not found", "Failed to load model class"]

#: A cell's output that holds a drawn widget (not one inside an Output widget).
DRAWN_WIDGETS = (
    ".jp-Cell-outputArea > .jp-OutputArea-child > .jp-OutputArea-output:has(> .jupyter-widgets)"
    ":not(:has(.jupyter-widgets-error-widget))"
)
#: What ipywidgets draws in place of a widget it could not draw.
WIDGET_ERROR = ".jupyter-widgets-error-widget"
STARTUP_SECONDS = 90
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

# Settings a new user would not notice: no news or update checks (no network), and every cell
# kept in the DOM so that the page's outputs can be read (windowing draws only visible cells).
_USER_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


def free_port() -> int:
    """Return a TCP port that is free on 127.0.0.1 now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class JupyterServer:
    """``jupyter lab`` or ``jupyter notebook`` on 127.0.0.1, a random port and a token.

    Every file the server and its kernels write (settings, runtime files, the notebooks) lives
    under ``home``, a temporary directory.
    """

    frontend: Frontend
    home: Path
    port: int = field(default_factory=free_port)
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    process: subprocess.Popen[bytes] | None = None

    @property
    def root(self) -> Path:
        """The directory the server serves notebooks from."""
        return self.home / "work"

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        """The server's own log (and its kernels' stderr)."""
        return self.home / "server.log"

    def start(self) -> None:
        """Start the server and wait until it answers."""
        self.root.mkdir(parents=True, exist_ok=True)
        settings = self.home / "lab-settings"
        for name, values in _USER_SETTINGS.items():
            path = settings / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        # JupySQL (a development dependency: the store's %sql test) brings a JupyterLab plugin
        # that throws on start; the console checked here is that of our notebooks.
        page_config = self.home / "config" / "labconfig" / "page_config.json"
        page_config.parent.mkdir(parents=True, exist_ok=True)
        page_config.write_text(json.dumps({"disabledExtensions": {"jupysql-plugin": True}}))
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("ALLOY_", "JUPYTER", "IPYTHON"))
        }
        env.update(
            HOME=str(self.home),
            JUPYTER_CONFIG_DIR=str(self.home / "config"),
            JUPYTER_DATA_DIR=str(self.home / "data"),
            JUPYTER_RUNTIME_DIR=str(self.home / "runtime"),
            JUPYTER_PLATFORM_DIRS="1",
            JUPYTERLAB_SETTINGS_DIR=str(settings),
            JUPYTERLAB_WORKSPACES_DIR=str(self.home / "workspaces"),
            IPYTHONDIR=str(self.home / "ipython"),
            PYTHONUNBUFFERED="1",
        )
        command = [
            sys.executable,
            "-m",
            "jupyter",
            self.frontend,
            "--no-browser",
            "--expose-app-in-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={self.root}",
            f"--IdentityProvider.token={self.token}",
            "--ServerApp.open_browser=False",
        ]
        if self.frontend == "lab":
            command += [
                "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                "--LabApp.extension_manager=readonly",
            ]
        if os.geteuid() == 0:
            # CI runs as root in a throwaway container.
            command.append("--allow-root")
        with self.log.open("wb") as log:
            # A session of its own, so that stopping it reaches its kernels and no one else.
            self.process = subprocess.Popen(
                command,
                cwd=self.root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyter {self.frontend} exited:\n{self.log.read_text()}")
            try:
                if self.api("GET", "/api/status").ok:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"jupyter {self.frontend} did not start:\n{self.log.read_text()}")

    def api(self, method: str, path: str) -> requests.Response:
        """Call the server's REST API with the token."""
        return requests.request(
            method,
            self.url + path,
            headers={"Authorization": f"token {self.token}"},
            timeout=10,
        )

    def shutdown_kernels(self) -> None:
        """Shut down every kernel the server runs (a test's notebook is done with)."""
        try:
            for kernel in self.api("GET", "/api/kernels").json():
                self.api("DELETE", f"/api/kernels/{kernel['id']}")
        except (requests.RequestException, ValueError):
            pass

    def stop(self) -> None:
        """Shut the kernels down, then the server (killed if it will not stop)."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        self.shutdown_kernels()
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def page_url(self, name: str) -> str:
        """The URL that opens notebook ``name`` (relative to :attr:`root`) in the front end."""
        if self.frontend == "lab":
            # `reset`: a new workspace, without the notebooks earlier tests left open.
            return f"{self.url}/lab/tree/{name}?reset&token={self.token}"
        return f"{self.url}/notebooks/{name}?token={self.token}"


def open_notebook(page: Page, server: JupyterServer, name: str) -> None:
    """Open a notebook and wait until its kernel is ready."""
    page.goto(server.page_url(name))
    page.wait_for_function(
        """(name) => {
            const app = window.jupyterapp;
            const panel = app && app.shell.currentWidget;
            return !!(panel && panel.context && panel.context.path.endsWith(name)
                && panel.sessionContext && panel.sessionContext.session
                && panel.sessionContext.session.kernel
                && panel.sessionContext.session.kernel.status === "idle"
                && panel.content.widgets.length > 0);
        }""",
        arg=name,
        timeout=STARTUP_SECONDS * 1000,
    )
    # The notebook as wide as the window, as after closing the file browser.
    page.evaluate(
        "() => window.jupyterapp.shell.collapseLeft && window.jupyterapp.shell.collapseLeft()"
    )


def run_command(page: Page, command: str, args: dict[str, Any] | None = None) -> Any:
    """Run a JupyterLab command (``notebook:run-all-cells``) as its menu item would."""
    return page.evaluate(
        "([command, args]) => window.jupyterapp.commands.execute(command, args)",
        [command, args or {}],
    )


def wait_until_idle(page: Page, timeout: float) -> None:
    """Wait until no cell runs or waits to run and the kernel is idle, for half a second."""
    page.wait_for_function(
        """() => {
            const panel = window.jupyterapp.shell.currentWidget;
            const kernel = panel.sessionContext.session.kernel;
            const busy = kernel.status !== "idle" || panel.content.widgets.some(
                (cell) => cell.model.type === "code" && (
                    cell.model.executionState === "running"
                    || (cell.promptNode && cell.promptNode.textContent.includes("*"))));
            const now = Date.now();
            if (busy) { window.__alloyIdleSince = undefined; return false; }
            window.__alloyIdleSince = window.__alloyIdleSince || now;
            return now - window.__alloyIdleSince > 500;
        }""",
        timeout=timeout * 1000,
        polling=200,
    )


def run_all_cells(page: Page, timeout: float) -> None:
    """Run every cell (the Run menu's "Run All Cells") and wait until the last one is done."""
    run_command(page, "notebook:run-all-cells")
    wait_until_idle(page, timeout)


def cells(page: Page) -> list[dict[str, Any]]:
    """The notebook's cells as the front end holds them (source, execution count, outputs)."""
    result: list[dict[str, Any]] = page.evaluate(
        """() => window.jupyterapp.shell.currentWidget.content.widgets.map((cell) => {
            const model = cell.model.toJSON();
            return {type: model.cell_type, source: model.source,
                    execution_count: model.execution_count ?? null,
                    outputs: model.outputs || []};
        })"""
    )
    return result


def add_cell(page: Page, source: str) -> None:
    """Add a code cell with ``source`` at the end of the notebook and make it the active one."""
    page.evaluate(
        """(source) => {
            const notebook = window.jupyterapp.shell.currentWidget.content;
            const at = notebook.model.cells.length;
            notebook.model.sharedModel.insertCell(at, {cell_type: "code", source});
            notebook.activeCellIndex = at;
            notebook.mode = "command";
        }""",
        source,
    )


def run_cell(page: Page, source: str, timeout: float = 120) -> dict[str, Any]:
    """Add a cell with ``source`` at the end, run it as Shift+Enter would, and return it.

    Returns:
        The cell's source, execution count and outputs once the kernel is idle again.
    """
    add_cell(page, source)
    run_command(page, "notebook:run-cell")
    wait_until_idle(page, timeout)
    executed = [cell for cell in cells(page) if cell["source"] == source]
    return executed[-1]


def output_text(cell: dict[str, Any]) -> str:
    """What a cell printed to stdout and the value it ended with, as text (no widgets)."""
    parts = []
    for output in cell["outputs"]:
        if output.get("output_type") == "stream" and output.get("name") == "stdout":
            text = output.get("text", "")
        elif output.get("output_type") == "execute_result":
            text = output.get("data", {}).get("text/plain", "")
        else:
            continue
        parts.append(text if isinstance(text, str) else "".join(text))
    return "".join(parts)


def kernel_secrets(page: Page) -> list[str]:
    """Ask the kernel, without touching the notebook, for every sandbox key it holds.

    Returns:
        The API keys of the sandboxes and clients alive in the kernel.
    """
    code = (
        "import gc as _gc, json as _json\n"
        "print(_json.dumps(sorted({getattr(o, 'api_key', None) for o in _gc.get_objects()"
        " if type(o).__name__ in ('Sandbox', 'ClientConfig')} - {None})))"
    )
    printed: str = page.evaluate(
        """(code) => new Promise((resolve, reject) => {
            const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
            const future = kernel.requestExecute({code, silent: false, store_history: false});
            let text = "";
            future.onIOPub = (msg) => {
                if (msg.header.msg_type === "stream") { text += msg.content.text; }
                if (msg.header.msg_type === "error") { reject(msg.content.evalue); }
            };
            future.done.then(() => resolve(text), reject);
        })""",
        code,
    )
    keys: list[str] = json.loads(printed.strip().splitlines()[-1])
    return keys


#: Errors each open tab logged to its console or threw uncaught, by ``id(page)``; the ``page``
#: fixture fills it.
CONSOLE_ERRORS: dict[int, list[str]] = {}


# Notebook 7 (7.6) throws once while loading a settings schema, in its own core bundle, on
# every page; it has nothing to do with the notebook or its widgets.
_FRONTEND_NOISE = re.compile(r"reading 'schema'\).*/static/notebook/notebook_core\.", re.S)


def console_errors(page: Page) -> list[str]:
    """The console errors and uncaught exceptions the tab has logged so far, less the front
    end's own known noise."""
    return [e for e in CONSOLE_ERRORS.get(id(page), []) if not _FRONTEND_NOISE.search(e)]


def page_problems(page: Page, notebook_cells: list[dict[str, Any]]) -> list[str]:
    """What a user would call broken on the page: errors, widgets not drawn, cells not run.

    Returns:
        One line per problem; empty when there is none.
    """
    problems = []
    for index, cell in enumerate(notebook_cells):
        if cell["type"] != "code" or not cell["source"].strip():
            continue
        if cell["execution_count"] is None:
            problems.append(f"cell {index} did not run")
        for output in cell["outputs"]:
            if output.get("output_type") == "error":
                problems.append(
                    f"cell {index} raised {output.get('ename')}: {output.get('evalue')}"
                )
    text = page.inner_text("body")
    problems += [f"the page says {failure!r}" for failure in WIDGET_FAILURES if failure in text]
    undrawn = page.locator(WIDGET_ERROR)
    for index in range(undrawn.count()):
        # ipywidgets 8 draws an icon; a click on it shows the JavaScript error.
        undrawn.nth(index).click()
        problems.append(f"a widget was not drawn: {undrawn.nth(index).inner_text()[:300]}")
    expected = sum(
        WIDGET_VIEW in output.get("data", {})
        for cell in notebook_cells
        for output in cell["outputs"]
    )
    drawn = page.locator(DRAWN_WIDGETS).count()
    if drawn != expected:
        problems.append(f"{expected} widget outputs, {drawn} drawn")
    problems += [f"the browser logged {error[:300]!r}" for error in console_errors(page)]
    return problems


def secrets_on_page(page: Page, keys: list[str]) -> list[str]:
    """Which keys, or key-like text, the page's HTML shows.

    Returns:
        Descriptions of what was found; empty when nothing was.
    """
    html = page.content()
    found = [f"a kernel's API key ({key[:6]}...)" for key in keys if key in html]
    found += [f"text matching {p.pattern!r}" for p in SECRET_PATTERNS if p.search(html)]
    return found
