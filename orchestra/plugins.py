"""The plugin manager: bundled and third-party plugins from the `orchestra` entry-point group.

A fresh manager per command, no globals. Loading and calling are fault-isolated: a plugin that
fails to import or whose hook raises is recorded in `problems` and skipped.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import astuple, dataclass, field
from pathlib import Path
from typing import Any

import pluggy

from orchestra import files, hookspecs
from orchestra.errors import AgentKindError, SpawnVetoed
from orchestra.models import AgentKind

ENTRY_POINT_GROUP = "orchestra"


@dataclass
class PluginInfo:
    """One plugin as `orchestra plugins list` shows it."""

    name: str
    distribution: str | None  # the installed package that provides it
    version: str | None
    bundled: bool
    state: str  # loaded | disabled | failed
    problem: str | None = None
    hooks: list[str] = field(default_factory=list)
    agent_kinds: list[str] = field(default_factory=list)


@dataclass
class Plugins:
    manager: pluggy.PluginManager
    kinds: dict[str, AgentKind] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    found: dict[str, PluginInfo] = field(default_factory=dict)
    # `notified`'s answer and the configuration it was for: a spawn asks once per agent.
    _notified: tuple[Any, list[str] | None] | None = field(default=None, repr=False)

    def describe(self) -> list[PluginInfo]:
        """Every plugin found, with the hooks each loaded one implements and the kinds it gives."""
        for info in self.found.values():
            plugin = self.manager.get_plugin(info.name)
            if plugin is not None:
                info.hooks = sorted(caller.name for caller in self.manager.get_hookcallers(plugin) or [])
                info.agent_kinds = sorted(k for k, kind in self.kinds.items() if kind.plugin == info.name)
        return sorted(self.found.values(), key=lambda i: (not i.bundled, i.name))

    def call(self, hook: str, *, veto: type | None = None, **kwargs: Any) -> list[Any]:
        """Call every implementation of `hook`, newest registered first, isolating failures.

        An exception of type `veto` is re-raised (it is a plugin's answer, not its failure).
        """
        return list(self._results(hook, veto, kwargs))

    def call_first(self, hook: str, *, veto: type | None = None, **kwargs: Any) -> Any:
        """Like `call` for a `firstresult` hook: the first result that is not None, or None.
        Implementations after that one are not called."""
        return next(self._results(hook, veto, kwargs), None)

    def _results(self, hook: str, veto: type | None, kwargs: dict[str, Any]) -> Iterator[Any]:
        for impl in reversed(getattr(self.manager.hook, hook).get_hookimpls()):
            try:
                result = impl.function(**{name: kwargs[name] for name in impl.argnames})
            except Exception as error:  # a plugin must never take the command down
                if veto is not None and isinstance(error, veto):
                    raise
                self.problems.append(f"plugin '{impl.plugin_name}' failed in {hook}: {error}")
                continue
            if result is not None:
                yield result

    def notified(self, config: Any) -> list[str] | None:
        """The events some plugin's `notifier` may act on with `config` (`notifier_events`),
        sorted; None when one may act on any: it does not say, or failed to (said once)."""
        if self._notified is None or self._notified[0] is not config:
            self._notified = (config, self._ask_notified(config))
        return self._notified[1]

    def _ask_notified(self, config: Any) -> list[str] | None:
        wanted: set[str] = set()
        said = {impl.plugin_name: impl for impl in self.manager.hook.notifier_events.get_hookimpls()}
        for impl in self.manager.hook.notifier.get_hookimpls():
            asked = said.get(impl.plugin_name)
            if asked is None:
                return None
            try:
                events: Any = asked.function(config=config)
            except Exception as error:  # noqa: BLE001 - a plugin must never take the command down: it hears all
                self.problems.append(f"plugin '{impl.plugin_name}' failed in notifier_events: {error}")
                return None
            if not isinstance(events, list | tuple | set | frozenset) or not all(isinstance(e, str) for e in events):
                return None
            wanted.update(str(getattr(e, "value", e)) for e in events)  # a `Status` as its value
        return sorted(wanted)

    def kind(self, name: str) -> AgentKind:
        try:
            return self.kinds[name]
        except KeyError:
            known = ", ".join(sorted(self.kinds)) or "none"
            raise AgentKindError(
                f"unknown agent kind '{name}' (known: {known}); pick one with --agent, "
                f"or define [agents.{name}] with a `command` in orchestra.toml."
            ) from None

    def pre_spawn(self, **kwargs: Any) -> None:
        self.call("pre_spawn", veto=SpawnVetoed, **kwargs)


@dataclass(frozen=True)
class Found:
    """One entry point of the `orchestra` group: the plugin's name, what it loads
    (`module:attribute`) and its distribution's name and version."""

    name: str
    value: str
    distribution: str | None
    version: str | None

    def load(self) -> Any:
        """What `importlib.metadata.EntryPoint.load` gives: the module, or its attribute."""
        import importlib

        module, _, attributes = self.value.split("[", 1)[0].partition(":")
        loaded = importlib.import_module(module.strip())
        for attribute in filter(None, attributes.strip().split(".")):
            loaded = getattr(loaded, attribute)
        return loaded


def entry_points() -> list[Found]:
    """The group's entry points in the order importlib.metadata finds them, kept in the user's cache
    folder for this interpreter and import path. The cache is used while every distribution's
    folder and `entry_points.txt` along the path is as it was (an install, an upgrade, a removal
    or an edit changes one): finding them anew costs every command that loads plugins (every
    spawn) ~20 ms, most of it importing importlib.metadata and reading each distribution's METADATA."""
    key = _path_key()
    try:
        cache = _cache_file(key) if key is not None else None
    except (RuntimeError, KeyError):  # no home folder to find the cache folder in: found each time
        cache = None
    if cache is not None:
        try:
            data = json.loads(cache.read_text(encoding="utf-8"))
            if data["key"] == key:
                return [Found(*entry) for entry in data["entry_points"]]
        except (OSError, ValueError, TypeError, KeyError):
            pass
    found = _discovered()
    if cache is not None:
        with contextlib.suppress(OSError):
            cache.parent.mkdir(parents=True, exist_ok=True)
            files.write_atomic(cache, json.dumps({"key": key, "entry_points": [list(astuple(f)) for f in found]}))
    return found


def _discovered() -> list[Found]:
    from importlib.metadata import entry_points as group

    seen: dict[int, tuple[str | None, str | None]] = {}  # Distribution.metadata parses METADATA on each use
    found = []
    for entry_point in group(group=ENTRY_POINT_GROUP):
        dist = getattr(entry_point, "dist", None)
        if dist is not None and id(dist) not in seen:
            metadata = dist.metadata
            seen[id(dist)] = (metadata["Name"], metadata["Version"])
        name, version = seen[id(dist)] if dist is not None else (None, None)
        found.append(Found(entry_point.name, entry_point.value, name, version))
    return found


def _path_key() -> list[Any] | None:
    """What the entry points found depend on: the interpreter, the import path, and each
    distribution's folder along it with its `entry_points.txt` (their times of change). None
    when the path holds something other than folders (a zip), where the cache is not used."""
    key: list[Any] = [sys.version, sys.executable]
    for entry in sys.path:
        folder = entry or "."
        try:
            with os.scandir(folder) as listing:
                names = sorted(item.name for item in listing if item.name.endswith((".dist-info", ".egg-info")))
        except (FileNotFoundError, PermissionError):
            key.append([entry, None])
            continue
        except OSError:
            return None
        key.append([entry, [_stamped(os.path.join(folder, name)) for name in names]])
    return key


def _stamped(distribution: str) -> list[Any]:
    """A distribution's folder (or egg-info file) with its and its `entry_points.txt`'s times."""
    entry_points = os.path.join(distribution, "entry_points.txt")
    return [os.path.basename(distribution), files.changed_at(distribution), files.changed_at(entry_points)]


def _cache_file(key: list[Any]) -> Path:
    home = os.environ.get("ORCHESTRA_HOME")
    if home:
        folder = Path(home) / "cache"
    else:
        folder = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "claude-orchestra"
    import zlib

    where = zlib.crc32(json.dumps(key[:2] + [entry for entry, _ in key[2:]]).encode("utf-8", "surrogateescape"))
    return folder / f"entry-points-{where:08x}.json"


def _bundled(distribution: str | None) -> bool:
    return distribution is not None and distribution.replace("_", "-").lower() == "claude-orchestra"


def load(
    disabled: Sequence[str] = (),
    custom_commands: dict[str, list[str]] | None = None,
    extra: dict[str, object] | None = None,
) -> Plugins:
    """Load every plugin in the entry-point group except the disabled ones, and collect agent kinds.

    `custom_commands` maps kinds defined only in orchestra.toml (`[agents.<name>] command = [...]`)
    to their argument templates; they become `command`-style kinds. `extra` registers plugin
    objects directly, by name (for programs that embed orchestra, and tests).
    """
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    plugins = Plugins(manager=manager)
    # Bundled plugins first, then the others by name: the first to register an agent kind keeps it.
    found = sorted(entry_points(), key=lambda ep: (not _bundled(ep.distribution), ep.name))
    for entry_point in found:
        if entry_point.name in plugins.found:
            continue  # a second distribution with the same plugin name: the first one found wins
        distribution, version = entry_point.distribution, entry_point.version
        info = PluginInfo(
            name=entry_point.name,
            distribution=distribution,
            version=version,
            bundled=_bundled(distribution),
            state="disabled" if entry_point.name in disabled else "loaded",
        )
        plugins.found[entry_point.name] = info
        if entry_point.name in disabled:
            continue
        try:
            manager.register(entry_point.load(), name=entry_point.name)
        except Exception as error:  # noqa: BLE001
            info.state, info.problem = "failed", f"{type(error).__name__}: {error}"
            plugins.problems.append(f"plugin '{entry_point.name}' could not be loaded: {error}")
    for name, plugin in (extra or {}).items():
        if name not in disabled:
            manager.register(plugin, name=name)

    def register(kind: AgentKind, plugin: str) -> None:
        if kind.name in plugins.kinds:
            owner = plugins.kinds[kind.name].plugin
            plugins.problems.append(
                f"plugins '{owner}' and '{plugin}' both provide the agent kind '{kind.name}'; using '{owner}'."
            )
            return
        kind.plugin = plugin
        plugins.kinds[kind.name] = kind

    # Oldest registered first, so a bundled or earlier plugin keeps a kind another one claims too.
    for impl in manager.hook.register_agents.get_hookimpls():
        try:
            impl.function(register=lambda kind, _p=impl.plugin_name: register(kind, _p))
        except Exception as error:  # noqa: BLE001
            plugins.problems.append(f"plugin '{impl.plugin_name}' failed in register_agents: {error}")

    template = plugins.kinds.get("command")
    for name, command in (custom_commands or {}).items():
        if name not in plugins.kinds and template is not None and command:
            plugins.kinds[name] = AgentKind(
                name=name,
                build_argv=template.build_argv,
                description=f"`{command[0]}` as configured in orchestra.toml",
                default_command=list(command),
                plugin="orchestra.toml",
            )
    return plugins
