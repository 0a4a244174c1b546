"""The plugin manager: loads the ``textgen`` entry points one by one and keeps what each registers.

A plugin that fails to import, asks for another plugin API, implements an unknown hook, or
registers a name already taken is recorded in ``Registry.failures`` and skipped; the rest work.
``TEXTGEN_LOAD_PLUGINS`` (comma-separated distribution names) limits which third-party
distributions load; the built-ins always do.
"""

from __future__ import annotations

import difflib
import importlib.metadata as md
import os
import re
from dataclasses import dataclass, field
from typing import Any

import pluggy

from textgen import PLUGIN_API_VERSION, hookspecs
from textgen.errors import UnknownNameError

GROUP = "textgen"
KINDS = ("backbones", "samplers", "metrics", "decoders")
CORE_DIST = "textgen"


@dataclass(frozen=True)
class Entry:
    """One registered thing, with the plugin and distribution that provided it."""

    name: str
    obj: Any
    kind: str
    plugin: str
    dist: str
    version: str


@dataclass(frozen=True)
class Failure:
    """A plugin, or one registration of it, that was skipped, and why."""

    plugin: str
    dist: str
    version: str
    error: str


@dataclass
class Registry:
    """Everything the loaded plugins registered, by kind, plus what went wrong."""

    backbones: dict[str, Entry] = field(default_factory=dict)
    samplers: dict[str, Entry] = field(default_factory=dict)
    metrics: dict[str, Entry] = field(default_factory=dict)
    decoders: dict[str, Entry] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    plugins: list[tuple[str, str, str]] = field(default_factory=list)  # (plugin, dist, version)
    manager: pluggy.PluginManager | None = None

    def get(self, kind: str, name: str) -> Any:
        """The registered object, or an error listing the registered names and a close match."""
        table: dict[str, Entry] = getattr(self, kind)
        if name in table:
            return table[name].obj
        singular = kind[:-1]
        known = ", ".join(sorted(table)) or "none"
        close = difflib.get_close_matches(name, list(table), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UnknownNameError(f"unknown {singular} {name!r}.{hint} Registered {kind}: {known}.")

    def sampler(self, name: str) -> Any:
        return self.get("samplers", name)

    def backbone(self, name: str) -> Any:
        return self.get("backbones", name)


def _dist_of(ep: md.EntryPoint) -> tuple[str, str]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return "?", "?"
    return dist.metadata["Name"], dist.version


def _entry_points() -> list[md.EntryPoint]:
    """The group's entry points, the core's first, then by distribution and name."""
    eps = list(md.entry_points(group=GROUP))
    wanted = os.environ.get("TEXTGEN_LOAD_PLUGINS")
    if wanted is not None:
        names = {n.strip() for n in wanted.split(",") if n.strip()} | {CORE_DIST}
        eps = [ep for ep in eps if _dist_of(ep)[0] in names]
    # A distribution installed twice on sys.path shows its entry points twice: keep one.
    unique = {(ep.name, ep.value, _dist_of(ep)[0]): ep for ep in eps}
    return sorted(unique.values(),
                  key=lambda ep: (_dist_of(ep)[0] != CORE_DIST, _dist_of(ep)[0], ep.name))


def _api_error(module: Any) -> str | None:
    wanted = getattr(module, "textgen_plugin_api", PLUGIN_API_VERSION)
    if wanted != PLUGIN_API_VERSION:
        return (f"needs textgen plugin API {wanted}, but this textgen provides "
                f"{PLUGIN_API_VERSION}")
    return None


def load_registry(extra: list[tuple[str, Any]] | None = None, *,
                  entry_points: bool = True) -> Registry:
    """Load the entry-point plugins (and ``extra`` (name, module) pairs) into a new Registry."""
    pm = pluggy.PluginManager(GROUP)
    pm.add_hookspecs(hookspecs)
    reg = Registry(manager=pm)
    origin: dict[str, tuple[str, str]] = {}

    candidates: list[tuple[str, str, str, Any]] = []  # (name, dist, version, loader)
    if entry_points:
        for ep in _entry_points():
            candidates.append((ep.name, *_dist_of(ep), ep.load))
    for name, module in extra or []:
        candidates.append((name, "(local)", "-", lambda module=module: module))

    for name, dist, version, load in candidates:
        try:
            module = load()
            problem = _api_error(module)
            if problem:
                raise RuntimeError(problem)
            pm.register(module, name=name)
        except Exception as exc:  # noqa: BLE001 - any plugin error is reported, never fatal
            reg.failures.append(Failure(name, dist, version, f"{type(exc).__name__}: {exc}"))
            continue
        origin[name] = (dist, version)
        reg.plugins.append((name, dist, version))

    # A hook implementation no spec knows (a typo, another API) rejects that plugin alone.
    while True:
        try:
            pm.check_pending()
            break
        except pluggy.PluginValidationError as exc:
            plugin_name = pm.get_name(exc.plugin) or "?"
            dist, version = origin.get(plugin_name, ("?", "?"))
            reg.failures.append(Failure(plugin_name, dist, version, str(exc)))
            pm.unregister(exc.plugin)
            reg.plugins = [p for p in reg.plugins if p[0] != plugin_name]

    for kind in KINDS:
        for impl in getattr(pm.hook, f"register_{kind}").get_hookimpls():  # load order
            _call_one(reg, kind, impl, origin.get(impl.plugin_name, ("?", "?")))
    return reg


NAME = re.compile(r"[a-z][a-z0-9_]*")


def registration_problem(kind: str, name: Any, obj: Any) -> str | None:
    """Why ``register(name, obj)`` cannot be accepted, or None: names are lowercase
    identifiers; a sampler is a Sampler subclass registered under one name only."""
    if not isinstance(name, str) or not NAME.fullmatch(name):
        return (f"the name {name!r} is not a lowercase identifier (letters, digits and _, "
                "starting with a letter, e.g. 'top_a')")
    if kind == "samplers":
        from textgen.samplers.base import Sampler

        if not (isinstance(obj, type) and issubclass(obj, Sampler)):
            what = type(obj).__name__ if not isinstance(obj, type) else obj.__name__
            return (f"expected a textgen.samplers.Sampler subclass (the class itself, not an "
                    f"instance or a function), got {what}")
        own = obj.__dict__.get("name")
        if own and own != name:
            return (f"{obj.__name__} already has the name {own!r} (a `name` attribute, or an "
                    f"earlier registration); a stage has one name: drop the attribute and "
                    f"register it once")
    if kind == "decoders":
        from textgen.generation.decoders import DecodingStrategy

        if not (isinstance(obj, type) and issubclass(obj, DecodingStrategy)):
            return "expected a textgen.generation.decoders.DecodingStrategy subclass"
    return None


def _call_one(reg: Registry, kind: str, impl: Any, where: tuple[str, str]) -> None:
    """Run one plugin's ``register_<kind>`` hook, keeping the first owner of every name."""
    table: dict[str, Entry] = getattr(reg, kind)
    dist, version = where

    def register(name: str, obj: Any) -> None:
        problem = registration_problem(kind, name, obj)
        if problem:
            reg.failures.append(Failure(impl.plugin_name, dist, version,
                                        f"register({name!r}, ...) in register_{kind}: {problem}"))
            return
        if name in table:
            owner = table[name]
            reg.failures.append(Failure(
                impl.plugin_name, dist, version,
                f"{kind[:-1]} {name!r} is already registered by {owner.plugin} "
                f"({owner.dist}); skipped"))
            return
        if kind in ("samplers", "decoders"):
            obj.name = name  # a stage's one name: the one it is registered under
        table[name] = Entry(name, obj, kind, impl.plugin_name, dist, version)

    try:
        impl.function(register=register)
    except Exception as exc:  # noqa: BLE001
        reg.failures.append(Failure(impl.plugin_name, dist, version,
                                    f"register_{kind} raised {type(exc).__name__}: {exc}"))


_REGISTRY: Registry | None = None


def registry() -> Registry:
    """The process-wide registry, loaded on first use."""
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = load_registry()
    return _REGISTRY


def set_registry(reg: Registry | None) -> None:
    """Replace (or with None, reset) the process-wide registry; tests use this."""
    global _REGISTRY
    _REGISTRY = reg
