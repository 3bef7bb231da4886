"""The code blocks of the guides, and a check that a block's names exist in the public API.

A block is run as it is written unless the Markdown marks it, on the last non-blank line
before its fence, with an HTML comment that the rendered site does not show::

    <!-- snippet: names-only (needs an S3 bucket) -->

Such a block is read instead of run: its imports must import, and every attribute, call and
keyword it reaches from alloy-data's objects must exist (see :func:`check_names`).
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
import importlib
import inspect
import re
import shlex
import textwrap
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

#: What a marker may say: ``names-only`` is the one way to leave a block unrun.
MARKERS = ("names-only",)

_FENCE = re.compile(r"^```\s*([\w+-]*)\s*$")
_MARKER = re.compile(r"^<!--\s*snippet:\s*(?P<kind>[\w-]+)\s*(?:\((?P<reason>.*)\))?\s*-->$")


@dataclass(frozen=True)
class Block:
    """One fenced code block of a Markdown page."""

    page: str
    line: int
    language: str
    code: str
    marker: str | None = None
    reason: str = ""

    @property
    def where(self) -> str:
        """``page:line`` of the opening fence, for messages."""
        return f"{self.page}:{self.line}"


def doc_pages() -> list[Path]:
    """README.md and every page under docs/, in a stable order."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def read_blocks(path: Path) -> list[Block]:
    """The fenced code blocks of a page, with the marker that precedes each, if any."""
    page = path.relative_to(ROOT).as_posix()
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        end = index + 1
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        previous = next((line for line in reversed(lines[:index]) if line.strip()), "")
        marker = _MARKER.match(previous.strip())
        if marker is None and "snippet" in previous and previous.lstrip().startswith("<!--"):
            marker = _MARKER.match("<!-- snippet: malformed -->")
        found.append(
            Block(
                page=page,
                line=index + 1,
                language=opening.group(1),
                code="\n".join(lines[index + 1 : end]) + "\n",
                marker=marker.group("kind") if marker else None,
                reason=(marker.group("reason") or "") if marker else "",
            )
        )
        index = end + 1
    return found


def shell_commands(code: str) -> Iterator[list[str]]:
    """The commands of a shell block, one argument list each: comments, prompts and
    backslash continuations removed."""
    text = re.sub(r"\\\n\s*", " ", code)
    console = code.lstrip().startswith("$ ")
    for raw in text.splitlines():
        line = raw.strip()
        if console and not line.startswith("$ "):
            continue  # a console block's output
        words = shlex.split(line.removeprefix("$ "), comments=True)
        if words:
            yield words


# --- names ---------------------------------------------------------------------------------


class _Unknown:
    """Something the check cannot see into (a user's function, a DataFrame, a loop variable)."""


UNKNOWN = _Unknown()


@dataclass(frozen=True)
class _Instance:
    """An instance of ``cls``, known from an annotation rather than made."""

    cls: type


@dataclass(frozen=True)
class _ListOf:
    """A list (or sequence) of ``item``, from an annotation such as ``list[Credential]``."""

    item: Any


@dataclass(frozen=True)
class _Bound:
    """A method of a class known only from an annotation (``self`` is left out of its call)."""

    function: Any


def _public_classes() -> dict[str, type]:
    names: dict[str, type] = {}
    for module_name in (
        "alloy_data",
        "alloy_data.client",
        "alloy_data.models",
        "alloy_data.pull",
        "alloy_data.many",
        "alloy_data.options",
        "alloy_data.incremental",
        "alloy_data.pagination",
        "alloy_data.frames",
        "alloy_data.export",
        "alloy_data.http",
        "alloy_data.progress",
        "alloy_data.sandbox",
        "alloy_data.widgets",
    ):
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", ()):
            value = getattr(module, name, None)
            if isinstance(value, type):
                names.setdefault(name, value)
    return names


def _ours(value: Any) -> bool:
    if isinstance(value, ModuleType):
        return value.__name__.split(".")[0] == "alloy_data"
    module = getattr(value, "__module__", None) or type(value).__module__
    return isinstance(module, str) and module.split(".")[0] == "alloy_data"


class _Checker:
    def __init__(self, namespace: Mapping[str, Any], assumed: Iterable[str]) -> None:
        self.env: dict[str, Any] = dict(namespace)
        self.assumed = set(assumed)
        self.problems: list[str] = []
        self._classes = _public_classes()

    # Annotations are text (``from __future__ import annotations``): read the few shapes
    # that lead somewhere, and give up on the rest.
    def _annotation(self, annotation: Any, home: Any) -> Any:
        if isinstance(annotation, type):
            return _Instance(annotation) if _ours(annotation) else UNKNOWN
        if not isinstance(annotation, str):
            return UNKNOWN
        text = annotation.replace(" ", "")
        parts = [part for part in text.split("|") if part != "None"]
        if len(parts) != 1:
            return UNKNOWN
        text = parts[0]
        listed = re.fullmatch(r"(?:builtins\.)?(?:list|tuple|Sequence)\[(.+?)(?:,\.\.\.)?\]", text)
        if listed:
            return _ListOf(self._annotation(listed.group(1), home))
        globals_ = getattr(inspect.getmodule(home), "__dict__", {})
        cls = globals_.get(text) or self._classes.get(text)
        return _Instance(cls) if isinstance(cls, type) and _ours(cls) else UNKNOWN

    def _returns(self, function: Any) -> Any:
        if isinstance(function, type):
            return _Instance(function)
        try:
            annotation = inspect.signature(function).return_annotation
        except (TypeError, ValueError):
            return UNKNOWN
        return self._annotation(annotation, function)

    def _class_attribute(self, cls: type, name: str) -> Any:
        try:
            static = inspect.getattr_static(cls, name)
        except AttributeError:
            return self._instance_field(cls, name)
        if isinstance(static, property):
            return self._returns(static.fget) if static.fget else UNKNOWN
        if isinstance(static, (staticmethod, classmethod)):
            return getattr(cls, name)
        if inspect.isfunction(static):
            return _Bound(static)
        return static

    def _instance_field(self, cls: type, name: str) -> Any:
        for klass in cls.__mro__:
            if dataclasses.is_dataclass(klass):
                for field in dataclasses.fields(klass):
                    if field.name == name:
                        return self._annotation(field.type, klass)
            if name in getattr(klass, "__annotations__", {}):
                return self._annotation(klass.__annotations__[name], klass)
            if name in getattr(klass, "__slots__", ()):
                return UNKNOWN
            made = self._made_in_init(klass, name)
            if made is not None:
                return made
        return None

    def _made_in_init(self, klass: type, name: str) -> Any:
        init = klass.__dict__.get("__init__")
        if not inspect.isfunction(init):
            return None
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(init)))
        except (OSError, SyntaxError):
            return None
        for node in ast.walk(tree):
            targets = node.targets if isinstance(node, ast.Assign) else []
            if isinstance(node, ast.AnnAssign):
                targets = [node.target]
            for target in targets:
                if (
                    isinstance(target, ast.Attribute)
                    and isinstance(target.value, ast.Name)
                    and target.value.id == "self"
                    and target.attr == name
                ):
                    value = getattr(node, "value", None)
                    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name):
                        made = vars(inspect.getmodule(klass) or builtins).get(value.func.id)
                        if isinstance(made, type) and _ours(made):
                            return _Instance(made)
                    return UNKNOWN
        return None

    def attribute(self, base: Any, name: str, node: ast.AST) -> Any:
        if isinstance(base, _Instance):
            found = self._class_attribute(base.cls, name)
            if found is None:
                self.report(node, f"{base.cls.__name__} has no attribute {name!r}")
                return UNKNOWN
            return found
        if isinstance(base, (_Unknown, _ListOf, _Bound)) or not _ours(base):
            return UNKNOWN
        try:
            static = inspect.getattr_static(base, name)
        except AttributeError:
            if isinstance(base, ModuleType):
                try:
                    return getattr(base, name)  # a module's lazy __getattr__
                except AttributeError:
                    pass
            shown = base.__name__ if isinstance(base, (ModuleType, type)) else type(base).__name__
            self.report(node, f"{shown} has no attribute {name!r}")
            return UNKNOWN
        if isinstance(static, property):  # never run a property's code
            return self._returns(static.fget) if static.fget else UNKNOWN
        return getattr(base, name)

    def call(self, function: Any, node: ast.Call) -> Any:
        target = function.function if isinstance(function, _Bound) else function
        if isinstance(function, (_Unknown, _ListOf, _Instance)) or not _ours(target):
            return UNKNOWN
        try:
            signature = inspect.signature(target)
        except (TypeError, ValueError):
            return UNKNOWN
        if isinstance(function, _Bound):
            parameters = list(signature.parameters.values())[1:]
            signature = signature.replace(parameters=parameters)
        starred = any(isinstance(arg, ast.Starred) for arg in node.args) or any(
            keyword.arg is None for keyword in node.keywords
        )
        if not starred:
            fragment = any(
                isinstance(arg, ast.Constant) and arg.value is Ellipsis for arg in node.args
            )
            args = [object()] * len(node.args)
            kwargs = {keyword.arg: object() for keyword in node.keywords if keyword.arg}
            try:
                (signature.bind_partial if fragment else signature.bind)(*args, **kwargs)
            except TypeError as error:
                name = getattr(target, "__qualname__", repr(target))
                self.report(node, f"{name}(): {error}")
        return self._returns(target)

    def report(self, node: ast.AST, problem: str) -> None:
        self.problems.append(f"line {getattr(node, 'lineno', '?')}: {problem}")

    # --- walking the code ---

    def value(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Name):
            if node.id in self.env:
                return self.env[node.id]
            if node.id not in self.assumed and not hasattr(builtins, node.id):
                self.report(node, f"{node.id!r} is not defined")
            return UNKNOWN
        if isinstance(node, ast.Attribute):
            return self.attribute(self.value(node.value), node.attr, node)
        if isinstance(node, ast.Call):
            function = self.value(node.func)
            for argument in [*node.args, *(keyword.value for keyword in node.keywords)]:
                self.value(argument.value if isinstance(argument, ast.Starred) else argument)
            return self.call(function, node)
        if isinstance(node, ast.Subscript):
            base = self.value(node.value)
            self.value(node.slice)
            return (
                _Instance(base.item.cls)
                if isinstance(base, _ListOf) and isinstance(base.item, _Instance)
                else UNKNOWN
            )
        if isinstance(node, ast.Lambda):
            self._scoped(node.args, [node.body])
            return UNKNOWN
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            saved = dict(self.env)
            parts: list[ast.expr]
            for generator in node.generators:
                self.value(generator.iter)
                self.bind(generator.target, UNKNOWN)
                for condition in generator.ifs:
                    self.value(condition)
            parts = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
            for part in parts:
                self.value(part)
            self.env = saved
            return UNKNOWN
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                self.value(child)
            elif isinstance(child, ast.keyword):
                self.value(child.value)
        return UNKNOWN

    def bind(self, target: ast.expr, value: Any) -> None:
        if isinstance(target, ast.Name):
            self.env[target.id] = value
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self.bind(element.value if isinstance(element, ast.Starred) else element, UNKNOWN)
        else:
            self.value(target)

    def _scoped(self, arguments: ast.arguments, body: list[Any]) -> None:
        saved = dict(self.env)
        for argument in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]:
            self.env[argument.arg] = UNKNOWN
        for extra in (arguments.vararg, arguments.kwarg):
            if extra is not None:
                self.env[extra.arg] = UNKNOWN
        for item in body:
            if isinstance(item, ast.stmt):
                self.statement(item)
            else:
                self.value(item)
        self.env = saved

    def statement(self, node: ast.stmt) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                module: Any
                try:
                    module = importlib.import_module(alias.name)
                except ImportError as error:
                    self.report(node, f"import {alias.name}: {error}")
                    module = UNKNOWN
                if alias.asname:
                    self.env[alias.asname] = module
                else:
                    top = alias.name.split(".")[0]
                    self.env[top] = (
                        importlib.import_module(top) if module is not UNKNOWN else UNKNOWN
                    )
        elif isinstance(node, ast.ImportFrom):
            try:
                module = importlib.import_module(node.module or "")
            except ImportError as error:
                self.report(node, f"from {node.module} import ...: {error}")
                module = None
            for alias in node.names:
                value = UNKNOWN
                if module is not None:
                    value = (
                        self.attribute(module, alias.name, node)
                        if _ours(module)
                        else getattr(module, alias.name, UNKNOWN)
                    )
                    if not _ours(module) and value is UNKNOWN:
                        self.report(node, f"{node.module} has no {alias.name!r}")
                self.env[alias.asname or alias.name] = value
        elif isinstance(node, ast.Assign):
            value = self.value(node.value)
            for target in node.targets:
                self.bind(target, value)
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            value = self.value(node.value) if node.value is not None else UNKNOWN
            self.bind(node.target, value if isinstance(node, ast.AnnAssign) else UNKNOWN)
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            self.value(node.iter)
            self.bind(node.target, UNKNOWN)
            self._body([*node.body, *node.orelse])
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                self.value(item.context_expr)
                if item.optional_vars is not None:
                    self.bind(item.optional_vars, UNKNOWN)
            self._body(node.body)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            self.env[node.name] = UNKNOWN
            self._scoped(node.args, node.body)
        elif isinstance(node, ast.Try):
            self._body([*node.body, *node.orelse, *node.finalbody])
            for handler in node.handlers:
                if handler.type is not None:
                    self.value(handler.type)
                if handler.name:
                    self.env[handler.name] = UNKNOWN
                self._body(handler.body)
        elif isinstance(node, (ast.If, ast.While)):
            self.value(node.test)
            self._body([*node.body, *node.orelse])
        else:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.expr):
                    self.value(child)

    def _body(self, body: list[ast.stmt]) -> None:
        for item in body:
            self.statement(item)


def check_names(
    code: str, namespace: Mapping[str, Any], *, assumed: Iterable[str] = ()
) -> tuple[list[str], dict[str, Any]]:
    """Read a block without running it, and say what in it does not exist.

    Checked: every import imports, and every attribute, call (its positional count and its
    keywords, through ``inspect.signature``) and name it reaches from alloy-data's modules,
    classes and objects exists. A value comes from ``namespace`` (what earlier blocks made)
    or from the return annotation of the call that made it; what the check cannot see into
    (a DataFrame, a user's function) is not checked further. A call holding ``...`` as an
    argument is a fragment: its missing arguments are not counted.

    Args:
        code: The block's source.
        namespace: Names defined before the block.
        assumed: Names the block may use without defining them.

    Returns:
        The problems found, one line each, and the names the block defines (symbolically).
    """
    checker = _Checker(namespace, assumed)
    try:
        tree = ast.parse(code)
    except SyntaxError as error:
        return [f"line {error.lineno}: does not parse: {error.msg}"], checker.env
    checker._body(tree.body)
    return checker.problems, checker.env
