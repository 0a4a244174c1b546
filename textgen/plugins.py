"""The plugin manager: textgen's built-ins, then every ``textgen`` entry point, one by one.

The built-ins are the modules in ``DEFAULT_PLUGINS``, registered through the same pluggy manager
and the same hooks as third-party plugins (so a checkout without installed package metadata
still has ``lstm`` and ``greedy``); third parties are found by entry point. A plugin that fails
to import, asks for another plugin API, implements an unknown hook, provides no hooks, or
registers something unusable or a name already taken is recorded in ``Registry.failures`` and
skipped; the rest work. Strict mode (``TEXTGEN_STRICT_PLUGINS=1`` or ``--strict-plugins``)
turns any such failure into an error, for a plugin author's CI.

``TEXTGEN_LOAD_PLUGINS`` (comma-separated distribution names) limits which third-party
distributions load; set it empty to load none. The built-ins always load.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import importlib.metadata as md
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pluggy

from textgen import PLUGIN_API_VERSION, __version__, hookspecs
from textgen.errors import PluginError, UnknownNameError

GROUP = "textgen"
KINDS = ("backbones", "samplers", "metrics", "decoders")
DIST = "textgen-char"  # this distribution's name on the package index (import name: textgen)
# The report's own metric columns are not plugins: `textgen plugins` lists them from
# textgen.metrics (METRIC_INFO); only plugins' extra columns come through register_metrics.
DEFAULT_PLUGINS = ("textgen.builtins.samplers", "textgen.builtins.backbones")
HOOKS = tuple(n for n in dir(hookspecs) if n.startswith("register_"))
NAME = re.compile(r"[a-z][a-z0-9_]*")


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
    """A plugin, or one registration of it, that was skipped, and why. ``names`` are the
    names it tried to register, where known."""

    plugin: str
    dist: str
    version: str
    error: str
    names: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"plugin {self.plugin!r} ({self.dist} {self.version}): {self.error}"


@dataclass
class Registry:
    """What the loaded plugins registered: ``samplers[name]`` is the stage class,
    ``backbones[name]`` what was registered (a Backbone subclass or a ``LazyBackbone``),
    ``metrics[name]`` the function, ``decoders[name]`` the decoding strategy class;
    ``entry(kind, name)`` says who provided it."""

    backbones: dict[str, Any] = field(default_factory=dict)
    samplers: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    decoders: dict[str, Any] = field(default_factory=dict)  # DecodingStrategy subclasses
    entries: dict[tuple[str, str], Entry] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    plugins: list[tuple[str, str, str]] = field(default_factory=list)  # (plugin, dist, version)
    manager: pluggy.PluginManager | None = None

    def entry(self, kind: str, name: str) -> Entry:
        """Who registered ``name`` among ``kind`` (``"samplers"``...), and its object."""
        self.get(kind, name)
        return self.entries[kind, name]

    def get(self, kind: str, name: str) -> Any:
        """The registered object, or an error listing the registered names, a close match, and
        any skipped plugin that may have provided it."""
        table: dict[str, Any] = getattr(self, kind)
        if name in table:
            return table[name]
        singular = kind[:-1]
        known = ", ".join(sorted(table)) or "none"
        close = difflib.get_close_matches(name, list(table), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        message = f"unknown {singular} {name!r}.{hint} Registered {kind}: {known}."
        own = [f for f in self.failures if name in f.names]
        if own:
            message += f" {singular.capitalize()} {name!r} was not registered: " + "; ".join(
                map(str, own)) + "."
        elif self.failures:
            message += (" Skipped plugins (one may have provided it): "
                        + "; ".join(map(str, self.failures)) + ".")
        raise UnknownNameError(message)

    def sampler(self, name: str) -> Any:
        """The stage class registered as ``name``."""
        return self.get("samplers", name)

    def backbone(self, name: str) -> Any:
        """The backbone layer class registered as ``name`` (importing it if lazy)."""
        obj = self.get("backbones", name)
        return obj.load() if hasattr(obj, "load") else obj

    def backbone_params(self, name: str) -> Any:
        """The pydantic model of backbone ``name``'s spec fields (no Keras import)."""
        return self.get("backbones", name).Params


def _dist_of(ep: md.EntryPoint) -> tuple[str, str]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return "?", "?"
    return dist.metadata["Name"], dist.version


def _entry_points() -> list[md.EntryPoint]:
    """Third-party entry points of the group, by distribution and name."""
    eps = [ep for ep in md.entry_points(group=GROUP)
           if not ep.value.startswith("textgen.builtins")]  # old metadata of this package
    wanted = os.environ.get("TEXTGEN_LOAD_PLUGINS")
    if wanted is not None:
        names = {n.strip() for n in wanted.split(",") if n.strip()}
        eps = [ep for ep in eps if _dist_of(ep)[0] in names]
    # A distribution installed twice on sys.path shows its entry points twice: keep one.
    unique = {(ep.name, ep.value, _dist_of(ep)[0]): ep for ep in eps}
    return sorted(unique.values(), key=lambda ep: (_dist_of(ep)[0], ep.name))


def _api_error(module: Any) -> str | None:
    wanted = getattr(module, "textgen_plugin_api", PLUGIN_API_VERSION)
    if wanted != PLUGIN_API_VERSION:
        return (f"needs textgen plugin API {wanted}, but this textgen provides "
                f"{PLUGIN_API_VERSION}")
    return None


def _hook_functions(plugin: Any) -> tuple[list[str], list[str]]:
    """(names marked ``@hookimpl`` that are no hook, hook-like names not marked)."""
    unknown, unmarked = [], []
    for attr in dir(plugin):
        fn = getattr(plugin, attr, None)
        if not callable(fn):
            continue
        marked = hasattr(fn, f"{GROUP}_impl")
        if marked and attr not in HOOKS:
            unknown.append(attr)
        elif not marked and attr.startswith("register_"):
            unmarked.append(attr)
    return unknown, unmarked


def _suggest(name: str) -> str:
    close = difflib.get_close_matches(name, HOOKS, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _no_hooks(plugin: Any) -> str:
    _, unmarked = _hook_functions(plugin)
    if unmarked:
        return (f"provides no hooks: {', '.join(unmarked)} is not marked @hookimpl "
                "(from textgen.hookspecs import hookimpl)")
    return (f"provides no hooks (no function marked @hookimpl named one of "
            f"{', '.join(HOOKS)}); check the entry point names the right module")


def _given(module: Any) -> Any:
    """A module handed over as it is (``extra`` plugins in ``load_registry``)."""
    return module


def load_registry(extra: list[tuple[str, Any]] | None = None, *,
                  entry_points: bool = True) -> Registry:
    """The built-ins, the entry-point plugins (unless ``entry_points=False``) and ``extra``
    ``(name, module)`` pairs, loaded into a new Registry."""
    pm = pluggy.PluginManager(GROUP)
    pm.add_hookspecs(hookspecs)
    reg = Registry(manager=pm)
    origin: dict[str, tuple[str, str]] = {}

    Loader = Callable[[], Any]
    candidates: list[tuple[str, str, str, Loader, bool]] = [  # (name, dist, version, load, ours)
        (f"builtin_{path.rsplit('.', 1)[-1]}", DIST, __version__,
         functools.partial(importlib.import_module, path), True) for path in DEFAULT_PLUGINS]
    if entry_points:
        candidates += [(ep.name, *_dist_of(ep), ep.load, False) for ep in _entry_points()]
    candidates += [(name, "(local)", "-", functools.partial(_given, module), False)
                   for name, module in extra or []]

    for name, dist, version, load, ours in candidates:
        try:
            module = load()
            problem = _api_error(module)
            if problem:
                raise RuntimeError(problem)
            unknown, _ = _hook_functions(module)
            if unknown:
                raise RuntimeError("; ".join(f"unknown hook {u!r}{_suggest(u)}"
                                             for u in unknown))
            pm.register(module, name=name)
            if not ours and not pm.get_hookcallers(module):
                pm.unregister(module)
                raise RuntimeError(_no_hooks(module))
        except Exception as exc:  # noqa: BLE001 - any plugin error is reported, never fatal
            kind = "" if isinstance(exc, RuntimeError) else f"{type(exc).__name__}: "
            reg.failures.append(Failure(name, dist, version, f"{kind}{exc}"))
            continue
        origin[name] = (dist, version)
        reg.plugins.append((name, dist, version))

    for kind in KINDS:
        for impl in getattr(pm.hook, f"register_{kind}").get_hookimpls():  # load order
            _call_one(reg, kind, impl, origin.get(impl.plugin_name, ("?", "?")))
    return reg


def registration_problem(kind: str, name: Any, obj: Any) -> str | None:
    """Why ``register(name, obj)`` cannot be accepted, or None: names are lowercase
    identifiers; a sampler is a Sampler subclass registered under one name only; a backbone
    is a Backbone subclass or a LazyBackbone; a metric is a function."""
    if not isinstance(name, str) or not NAME.fullmatch(name):
        return (f"the name {name!r} is not a lowercase identifier (letters, digits and _, "
                "starting with a letter, e.g. 'top_a')")
    what = obj.__name__ if isinstance(obj, type) else f"{type(obj).__name__} {obj!r:.60}"
    if kind in ("samplers", "decoders"):
        base: type
        if kind == "samplers":
            from textgen.samplers.base import Sampler
            base = Sampler
        else:
            from textgen.generation.decoders import DecodingStrategy
            base = DecodingStrategy
        if not (isinstance(obj, type) and issubclass(obj, base)):
            return (f"expected a {base.__module__}.{base.__name__} subclass (the class itself, "
                    f"not an instance or a function), got {what}")
        own = obj.__dict__.get("name")
        if own and own != name:
            return (f"{obj.__name__} already has the name {own!r} (a `name` attribute, or an "
                    f"earlier registration); a stage has one name: drop the attribute and "
                    f"register it once")
    elif kind == "backbones":
        from textgen.backbones.lazy import LazyBackbone

        if isinstance(obj, LazyBackbone):
            return None
        if not isinstance(obj, type):
            return f"expected a textgen.backbones.Backbone subclass, got {what}"
        from textgen.backbones.base import Backbone

        if not issubclass(obj, Backbone) or not hasattr(obj, "Params"):
            return f"expected a textgen.backbones.Backbone subclass with Params, got {what}"
    elif kind == "metrics" and (not callable(obj) or isinstance(obj, type)):
        return f"expected a function fn(sample) -> float, got {what}"
    return None


def _call_one(reg: Registry, kind: str, impl: Any, where: tuple[str, str]) -> None:
    """Run one plugin's ``register_<kind>`` hook, keeping the first owner of every name."""
    table: dict[str, Any] = getattr(reg, kind)
    dist, version = where

    def fail(name: Any, message: str) -> None:
        reg.failures.append(Failure(impl.plugin_name, dist, version, message,
                                    (name,) if isinstance(name, str) else ()))

    def register(name: str, obj: Any) -> None:
        problem = registration_problem(kind, name, obj)
        if problem:
            fail(name, f"register({name!r}, ...) in register_{kind}: {problem}")
            return
        if name in table:
            owner = reg.entries[kind, name]
            fail(name, f"{kind[:-1]} {name!r} is already registered by {owner.plugin} "
                       f"({owner.dist}); skipped")
            return
        if kind in ("samplers", "decoders"):
            obj.name = name  # a stage's one name: the one it is registered under
            obj.plugin = f"{impl.plugin_name}, {dist} {version}"
        table[name] = obj
        reg.entries[kind, name] = Entry(name, obj, kind, impl.plugin_name, dist, version)

    try:
        impl.function(register=register)
    except Exception as exc:  # noqa: BLE001
        fail(None, f"register_{kind} raised {type(exc).__name__}: {exc}")


def strict() -> bool:
    """Whether a plugin that fails to load is an error (``TEXTGEN_STRICT_PLUGINS=1``)."""
    return os.environ.get("TEXTGEN_STRICT_PLUGINS", "").lower() in ("1", "true", "yes", "on")


def check_strict(reg: Registry) -> None:
    """In strict mode, raise a PluginError listing every skipped plugin."""
    if strict() and reg.failures:
        raise PluginError("strict plugin mode (TEXTGEN_STRICT_PLUGINS or --strict-plugins): "
                          + "; ".join(map(str, reg.failures)))


_REGISTRY: Registry | None = None


def registry(*, check: bool = True) -> Registry:
    """The process-wide registry, loaded on first use; in strict mode an error if any plugin
    was skipped (``check=False`` skips that check, to list what failed)."""
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = load_registry()
    if check:
        check_strict(_REGISTRY)
    return _REGISTRY


def set_registry(reg: Registry | None) -> None:
    """Replace (or with None, reset) the process-wide registry; tests use this."""
    global _REGISTRY
    _REGISTRY = reg
