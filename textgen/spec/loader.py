"""Load a YAML spec keeping where every key sits, then validate it with any pydantic model.

Like dagster's yaml_utils: PyYAML composes the node tree (which has marks), we build plain Python
data from it while recording ``path -> (line, column)``, and pydantic's error ``loc``s are mapped
back to ``training.epochs (line 7)``. Scalars keep PyYAML's YAML 1.1 meaning (``yes`` is True,
``1e-3`` is the string ``"1e-3"``, which pydantic's lax mode turns into a float where one is
expected). Duplicate keys, which PyYAML silently collapses, are reported. Aliases are expanded
into copies, so a file whose aliases nest aliases (the "billion laughs") is refused once it
expands past ``MAX_NODES`` values, before it can hang or fill memory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from textgen.spec.errors import Problem, SpecError, format_validation_error

M = TypeVar("M", bound=BaseModel)
Positions = dict[tuple[Any, ...], tuple[int, int]]

MAP_TAG = "tag:yaml.org,2002:map"
SEQ_TAG = "tag:yaml.org,2002:seq"
MERGE_TAG = "tag:yaml.org,2002:merge"
MAX_NODES = 20_000  # values a spec may expand to; real specs hold a few hundred


def _pos(node: Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _Builder:
    """Builds plain data from a composed node tree, recording positions and duplicate keys."""

    def __init__(self, loader: yaml.SafeLoader, file: str | None) -> None:
        self.loader, self.file = loader, file
        self.positions: Positions = {}
        self.problems: list[Problem] = []
        self._active: set[int] = set()  # collection nodes being built: catches recursive aliases
        self._built = 0  # values built so far, aliases counted at every use

    def fail(self, node: Node, message: str) -> SpecError:
        return SpecError.one(message, file=self.file, line=_pos(node)[0], column=_pos(node)[1])

    def enter(self, node: Node) -> None:
        if id(node) in self._active:
            raise self.fail(node, "an alias refers to a node that contains it "
                                  "(recursive anchors are not supported)")
        self._active.add(id(node))

    def build(self, node: Node, path: tuple[Any, ...]) -> Any:
        self._built += 1
        if self._built > MAX_NODES:
            raise self.fail(node, f"the YAML expands to more than {MAX_NODES:,} values (aliases "
                                  "that repeat aliases: a 'billion laughs' file?); write the "
                                  "spec out without nesting aliases")
        if isinstance(node, ScalarNode):
            return self.loader.construct_object(node, deep=True)
        self.enter(node)
        try:
            if isinstance(node, SequenceNode):
                if node.tag != SEQ_TAG:
                    raise self.fail(node, f"unsupported tag {node.tag!r} on a list")
                items = []
                for i, item in enumerate(node.value):
                    self.positions[path + (i,)] = _pos(item)
                    items.append(self.build(item, path + (i,)))
                return items
            if not isinstance(node, MappingNode) or node.tag != MAP_TAG:
                raise self.fail(node, f"unsupported tag {node.tag!r} on a mapping")
            out: dict[Any, Any] = {}
            for key, key_node, value_node in self.pairs(node, path):
                if key in out:  # own keys come first, then merged ones: the first one wins
                    continue
                self.positions[path + (key,)] = _pos(key_node)
                out[key] = self.build(value_node, path + (key,))
            return out
        finally:
            self._active.discard(id(node))

    def key(self, node: Node) -> Any:
        if not isinstance(node, ScalarNode):
            raise self.fail(node, "mapping keys must be plain scalars (names or numbers)")
        key = self.loader.construct_object(node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise self.fail(node, f"cannot use {node.value!r} as a key") from None
        return key

    def pairs(self, node: MappingNode, path: tuple[Any, ...]) -> list[tuple[Any, Node, Node]]:
        """``(key, key_node, value_node)`` of a mapping: its own entries, then merged ones."""
        own: list[tuple[Any, Node, Node]] = []
        merged: list[tuple[Any, Node, Node]] = []
        first: dict[Any, Node] = {}
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG:
                sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
                for source in sources:
                    if not isinstance(source, MappingNode):
                        raise self.fail(source, "a merge key '<<' takes a mapping or a list "
                                                "of mappings")
                    self.enter(source)
                    try:
                        merged.extend(self.pairs(source, path))
                    finally:
                        self._active.discard(id(source))
                continue
            key = self.key(key_node)
            if key in first:
                line = _pos(first[key])[0]
                self.problems.append(Problem(
                    ".".join(map(str, path + (key,))), *_pos(key_node),
                    f"duplicate key {key_node.value!r} (first defined on line {line}); "
                    "each key may appear once", self.file))
            else:
                first[key] = key_node
            own.append((key, key_node, value_node))
        return own + merged


def _yaml_error(err: yaml.YAMLError, text: str, file: str | None) -> SpecError:
    """A SpecError carrying the parser's problem text and the line/column of its mark."""
    if isinstance(err, yaml.MarkedYAMLError):
        mark = err.problem_mark or err.context_mark
        message = err.problem or err.context or "invalid YAML"
        if err.context and err.problem:
            where = f" on line {err.context_mark.line + 1}" if err.context_mark else ""
            if err.problem.startswith("but "):  # "expected X ..., but found Y"
                message = f"{err.context}{where}, {err.problem}"
            else:
                message += f" ({err.context}{where})"
        line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
        return SpecError.one(f"invalid YAML: {message}", file=file, line=line, column=column)
    if isinstance(err, yaml.reader.ReaderError) and isinstance(err.position, int):
        line = text.count("\n", 0, err.position) + 1
        column = err.position - (text.rfind("\n", 0, err.position) + 1) + 1
        char = err.character if isinstance(err.character, int) else ord(err.character[:1] or "\0")
        return SpecError.one(f"invalid YAML: {err.reason} (U+{char:04X})",
                             file=file, line=line, column=column)
    return SpecError.one(f"invalid YAML: {err}", file=file)


def load_yaml_with_positions(text: str, file: str | None = None) -> tuple[Any, Positions]:
    """Parse one YAML document into plain data and ``{path: (line, column)}`` (1-based).

    A path is the tuple of keys and list indices leading to a value; a mapping entry's position
    is its key's, a list item's is the item's. Raises SpecError for malformed YAML, duplicate
    keys, or a document that is not a mapping at the top.
    """
    try:
        loader = yaml.SafeLoader(text)
        try:
            root = loader.get_single_node()
            builder = _Builder(loader, file)
            data = None if root is None else builder.build(root, ())
        finally:
            loader.dispose()
    except yaml.YAMLError as err:
        raise _yaml_error(err, text, file) from None
    except RecursionError:
        raise SpecError.one("the YAML is nested too deeply", file=file) from None
    if builder.problems:
        raise SpecError(sorted(builder.problems, key=lambda p: (p.line, p.column)), file)
    if not isinstance(data, dict):
        got = "the document is empty" if root is None else f"got {_kind(data)}"
        line, column = _pos(root) if root is not None else (None, None)
        raise SpecError.one(f"the spec must be a mapping of sections, but {got}",
                            file=file, line=line, column=column)
    assert root is not None  # a mapping was built from it
    builder.positions[()] = _pos(root)
    return data, builder.positions


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    return "nothing (null)" if value is None else f"a single value ({value!r})"


def validate(model_cls: type[M], data: Any, positions: Positions,
             file: str | None = None) -> M:
    """Validate plain data with ``model_cls``; errors become a SpecError with paths and lines.

    A ``Spec`` also gets the second pass (``names.py``): its backbone and sampler names are
    looked up in the plugin registry, and every problem of both passes is reported at once.
    """
    from textgen.spec.names import name_problems
    from textgen.spec.schema import Spec

    second = name_problems(data, positions, file) if issubclass(model_cls, Spec) else []
    try:
        model = model_cls.model_validate(data)
    except ValidationError as err:
        first = format_validation_error(err, positions, file).problems
        raise SpecError(sorted(first + second, key=lambda p: (p.line is None, p.line or 0)),
                        file) from None
    if second:
        raise SpecError(second, file)
    return model


def loads_spec(text: str, model_cls: type[M], file: str | None = "<string>") -> M:
    """Parse and validate a spec given as YAML text; ``file`` names it in error messages."""
    data, positions = load_yaml_with_positions(text, file)
    return validate(model_cls, data, positions, file)


def read_yaml_file(path: str | Path) -> tuple[Any, Positions]:
    """Read and parse a YAML spec file (UTF-8, a BOM allowed); any failure is a SpecError."""
    path = Path(path)
    file = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SpecError.one("spec file not found", file=file) from None
    except OSError as err:
        raise SpecError.one(f"cannot read the spec file: {err.strerror or err}",
                            file=file) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        raise SpecError.one(f"the spec file is not UTF-8 text (byte 0x{raw[err.start]:02x} "
                            f"at offset {err.start})", file=file, line=line) from None
    return load_yaml_with_positions(text, file)


def load_spec(path: str | Path, model_cls: type[M]) -> M:
    """Read, parse and validate a YAML spec file; any failure is a SpecError naming the file."""
    data, positions = read_yaml_file(path)
    return validate(model_cls, data, positions, str(path))
