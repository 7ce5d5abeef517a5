"""`orchestra.toml`: built-in defaults, a user-level file, the project file, validated into typed objects.

The schema below is the one source of truth: loading validates against it, `orchestra init`
writes it out with its comments, and `docs/configuration.md` is checked against it.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestra.errors import ConfigError
from orchestra.models import AgentSettings

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

FILENAME = "orchestra.toml"
USER_FILENAME = "config.toml"


@dataclass(frozen=True)
class Key:
    type: str  # str | bool | list[str] | port-range | table[str] | one-of | count
    default: Any
    doc: str
    choices: tuple[str, ...] = ()  # for one-of
    template: bool = False  # a str in which {repo} stands for the main checkout's folder name
    forbidden: str = ""  # characters the value may not hold


SCHEMA: dict[str, dict[str, Key]] = {
    "orchestra": {
        "default_agent": Key("str", "claude", "agent kind used when `spawn` gets no --agent"),
        "default_host": Key(
            "str", "local", "where `spawn` starts agents when it gets no --host: local, auto, or a [hosts.NAME]'s name"
        ),
        "base": Key("str", "HEAD", "what new branches start from (any git revision)"),
        "branch_prefix": Key("str", "orchestra/", "agent branches are named <branch_prefix><name>"),
        "worktree_root": Key(
            "str",
            "../{repo}.worktrees",
            "where worktrees go, relative to the main checkout; {repo} is its folder name",
            template=True,
        ),
        "session": Key(
            "str",
            "orchestra-{repo}",
            "tmux session name; {repo} is the main checkout's folder name",
            template=True,
            forbidden=":.$\\#",
        ),
    },
    "worktree": {
        "copy": Key("list[str]", [".env"], "files copied from the main checkout into each new worktree, when present"),
        "symlink": Key("list[str]", [], "paths symlinked from the main checkout into each new worktree"),
        "setup": Key("str", "", "shell command run in a new worktree before its agent starts (your own command)"),
        "disposable": Key(
            "list[str]",
            [
                *("node_modules/", "__pycache__/", "*.pyc", ".venv/", "venv/", ".tox/", ".pytest_cache/"),
                *(".mypy_cache/", ".ruff_cache/", ".cache/", "dist/", "build/", "target/", ".next/", "coverage/"),
                *(".coverage", "*.egg-info/"),
            ],
            "git-ignored files that kill and clean delete silently (gitignore patterns); other ignored files are work",
        ),
        "pool": Key("count", 0, "worktrees kept checked out at the base, ready for the next spawn (0: no pool)"),
    },
    "ports": {
        "range": Key("port-range", [4100, 4199], "each agent gets a free ORCHESTRA_PORT from this range"),
    },
    "merge": {
        "strategy": Key(
            "str", "merge", "how `orchestra merge` integrates a branch: merge, squash, rebase, or a plugin's"
        ),
        "target": Key("str", "", "branch that agents' work is merged into; empty means the main checkout's branch"),
        "check": Key("str", "", "command that must pass on the merged result before the target branch moves"),
        "on_conflict": Key(
            "one-of",
            "skip",
            "what `merge --all` does with an agent that would conflict: skip it, stop the train, or handback",
            choices=("skip", "stop", "handback"),
        ),
    },
    "tmux": {
        "layout": Key(
            "one-of",
            "windows",
            "how `orchestra up` shows agents: windows (one each) or tiled (all in one window)",
            choices=("windows", "tiled"),
        ),
    },
    "usage": {
        "prices": Key(
            "prices",
            {},
            "your prices per million tokens, per model, for an estimated cost: "
            '{ "claude-sonnet-4-5" = { input = 3.0, output = 15.0, cache_read = 0.3, cache_write = 3.75 } }',
        ),
    },
    "schedule": {
        "max_running": Key(
            "count", 0, "agents starting, running or waiting at once (0: no limit); beyond it agents wait as queued"
        ),
        "min_free_disk": Key(
            "size",
            "",
            'a queued agent starts only while the worktree root\'s filesystem has this much free, e.g. "5GB"',
        ),
        "stagger": Key("duration", "", 'time between two agents\' starts, e.g. "2s"'),
        "on_limit": Key(
            "one-of",
            "wait",
            "an agent that hits a usage limit: wait (hold its kind's queue, go on at the reset) or fail",
            choices=("wait", "fail"),
        ),
        "limit_backoff": Key(
            "duration", "5m", 'how long a limited agent waits when its CLI gave no reset time, e.g. "10m"'
        ),
    },
    "mcp": {
        "max_children": Key("count", 5, "agents one agent may have at work at once through `orchestra mcp`'s spawn"),
        "max_depth": Key(
            "count", 2, "generations of agents: 1 lets only a person spawn, 2 lets their agents spawn workers too"
        ),
        "allow_merge": Key("bool", False, "whether agents may merge other agents' work through `orchestra mcp`"),
    },
    "plugins": {
        "disabled": Key("list[str]", [], 'names of plugins not to load, for example ["demo"]'),
    },
}

# `[hosts.<name>]`: a machine that runs agents, reached over SSH (orchestra.hosts).
HOST_KEYS: dict[str, Key] = {
    "ssh": Key("str", "", "the destination as ssh takes it: an alias from your ssh config, or user@host"),
    "ssh_args": Key("list[str]", [], 'extra arguments for ssh (and git over SSH), e.g. ["-p", "2222"]'),
    "path": Key("str", "", "where the project's clone lives on the host; empty: orchestra/<repo> in the home"),
    "forward_env": Key("list[str]", [], 'variables passed from your shell to its agents, e.g. ["ANTHROPIC_API_KEY"]'),
    "max_running": Key("count", 0, "agents at work at once on this host (0: no limit of its own)"),
}
HOST_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# `[usage.prices.<model>]`: each key prices one of the four counts of `ls --json`'s `usage`.
PRICE_KEYS = {
    "input": "input_tokens",
    "output": "output_tokens",
    "cache_read": "cache_read_tokens",
    "cache_write": "cache_write_tokens",
}

AGENT_KEYS: dict[str, Key] = {
    "command": Key(
        "list[str]", [], "the agent CLI and any leading arguments; for the `command` kind, {task} marks the task"
    ),
    "args": Key("list[str]", [], "extra arguments after the command"),
    "env": Key("table[str]", {}, "environment variables set for agents of this kind"),
    "model": Key("str", "", "model name passed to agent CLIs that take one"),
    "mcp": Key("bool", True, "give these agents orchestra's MCP server (its tools list, spawn, wait, post, ...)"),
}


@dataclass
class Config:
    """The merged, validated configuration. Sections mirror the TOML tables."""

    orchestra: dict[str, Any]
    worktree: dict[str, Any]
    ports: dict[str, Any]
    merge: dict[str, Any]
    plugins: dict[str, Any]
    tmux: dict[str, Any] = field(default_factory=lambda: {"layout": "windows"})
    usage: dict[str, Any] = field(default_factory=lambda: {"prices": {}})
    hosts: dict[str, dict[str, Any]] = field(default_factory=dict)  # [hosts.<name>], each with every key
    schedule: dict[str, Any] = field(
        default_factory=lambda: {
            "max_running": 0,
            "min_free_disk": "",
            "stagger": "",
            "on_limit": "wait",
            "limit_backoff": "5m",
        }
    )
    mcp: dict[str, Any] = field(default_factory=lambda: {"max_children": 5, "max_depth": 2, "allow_merge": False})
    agents: dict[str, dict[str, Any]] = field(default_factory=dict)
    sources: list[Path] = field(default_factory=list)

    def agent_settings(self, kind: str, defaults: AgentSettings | None = None) -> AgentSettings:
        """Settings for one agent kind: the kind's own defaults, overridden by `[agents.<kind>]`."""
        base = defaults or AgentSettings()
        table = self.agents.get(kind, {})
        env = dict(base.env)
        env.update(table.get("env", {}))
        return AgentSettings(
            command=list(table.get("command", base.command)),
            args=list(table.get("args", base.args)),
            env=env,
            model=table.get("model", base.model),
            mcp=table.get("mcp", base.mcp),
        )

    def plugin_settings(self, name: str) -> dict[str, Any]:
        """A plugin's own `[plugins.<name>]` table, unvalidated (the plugin owns its keys)."""
        return dict(self.plugins.get("settings", {}).get(name, {}))


def defaults() -> dict[str, dict[str, Any]]:
    return {section: {k: _copy(key.default) for k, key in keys.items()} for section, keys in SCHEMA.items()}


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list) else dict(value) if isinstance(value, dict) else value


def user_config_dir() -> Path:
    """`ORCHESTRA_HOME`, else `$XDG_CONFIG_HOME/orchestra`, else `~/.config/orchestra`."""
    home = os.environ.get("ORCHESTRA_HOME")
    if home:
        return Path(home)
    xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(xdg) / "orchestra"


def find_project_file(start: Path, root: Path) -> Path | None:
    """The nearest `orchestra.toml` from `start` up to `root` (the checkout's top level)."""
    start, root = start.resolve(), root.resolve()
    for folder in [start, *start.parents]:
        candidate = folder / FILENAME
        if candidate.is_file():
            return candidate
        if folder == root:
            break
    return None


def load(start: Path, root: Path) -> Config:
    """Built-in defaults, then the user-level file, then the project's `orchestra.toml`."""
    merged = defaults()
    agents: dict[str, dict[str, Any]] = {}
    hosts: dict[str, dict[str, Any]] = {}
    plugin_settings: dict[str, dict[str, Any]] = {}
    sources = []
    for path in (user_config_dir() / USER_FILENAME, find_project_file(start, root)):
        if path is None or not path.is_file():
            continue
        data = read_file(path)
        validate(data, path)
        sources.append(path)
        for section, values in data.items():
            if section == "agents":
                for kind, table in values.items():
                    agents.setdefault(kind, {}).update(table)
            elif section == "hosts":
                for host, table in values.items():
                    hosts.setdefault(host, {}).update(table)
            elif section == "plugins":
                for key, value in values.items():
                    if isinstance(value, dict):
                        plugin_settings.setdefault(key, {}).update(value)
                    else:
                        merged["plugins"][key] = value
            else:
                merged[section].update(values)
    for table in agents.values():
        if isinstance(table.get("command"), str):
            table["command"] = [table["command"]]
    merged["plugins"]["settings"] = plugin_settings
    for name, table in hosts.items():
        if not table.get("ssh"):
            where = sources[-1] if sources else Path(FILENAME)
            raise ConfigError(f"{where}: [hosts.{name}] needs ssh, the destination: an ssh config alias or user@host.")
        hosts[name] = {**{key: _copy(k.default) for key, k in HOST_KEYS.items()}, **table}
    return Config(agents=agents, hosts=hosts, sources=sources, **merged)


def read_file(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            table: dict[str, Any] = tomllib.load(handle)
            return table
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} is not valid TOML: {error}; fix that line and try again.") from None
    except UnicodeDecodeError as error:
        line = error.object[: error.start].count(b"\n") + 1
        raise ConfigError(
            f"{path} is not UTF-8 text (byte 0x{error.object[error.start]:02x} on line {line}): "
            "save it as UTF-8 and try again."
        ) from None
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror}.") from None


def validate(data: dict[str, Any], path: Path) -> None:
    """Raise `ConfigError` naming the file, the key, its line and a close match."""
    text = _read_text(path)
    _check_nul(path, text, data, "")
    for section, values in data.items():
        if section not in SCHEMA and section not in ("agents", "hosts"):
            _unknown(path, text, section, "", [*SCHEMA, "agents", "hosts"])
        if not isinstance(values, dict):
            _wrong_type(path, text, section, "", "a table", values)
        if section == "agents":
            for kind, table in values.items():
                if not isinstance(table, dict):
                    _wrong_type(path, text, kind, "agents", "a table", table)
                _check_table(path, text, f"agents.{kind}", table, AGENT_KEYS)
        elif section == "hosts":
            for host, table in values.items():
                _check_host(path, text, host, table)
        elif section == "plugins":
            _check_table(path, text, section, values, SCHEMA[section], allow_tables=True)
        else:
            _check_table(path, text, section, values, SCHEMA[section])


def _check_nul(path: Path, text: str, value: Any, dotted: str) -> None:
    """No key or string anywhere holds a NUL character (TOML's \\u0000): no path, name, command
    or argument can carry one, so it would only fail later, deep in a spawn."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        where = f"{dotted}.{key}" if dotted and isinstance(key, str) else dotted or str(key)
        name = key if isinstance(key, str) else dotted.rpartition(".")[2]
        if (isinstance(key, str) and "\0" in key) or (isinstance(item, str) and "\0" in item):
            raise ConfigError(
                f"{_place(path, text, name)}: '{where}' holds a NUL character (\\u0000), which no name, "
                "path or command can hold: remove it."
            )
        _check_nul(path, text, item, where)


def _check_host(path: Path, text: str, host: str, table: Any) -> None:
    """A `[hosts.<name>]` table: its keys, a name tmux and the command line can carry, a
    destination ssh cannot take for an option, and variable names."""
    if not isinstance(table, dict):
        _wrong_type(path, text, host, "hosts", "a table", table)
    if not HOST_NAME.match(host):
        raise ConfigError(
            f"{_place(path, text, host)}: the host name {_toml_value(host)} may hold only letters, digits, "
            "'-' and '_', and start with a letter or digit."
        )
    _check_table(path, text, f"hosts.{host}", table, HOST_KEYS)
    if str(table.get("ssh", "x")).startswith("-") or not str(table.get("ssh", "x")).strip():
        raise ConfigError(
            f"{_place(path, text, 'ssh')}: 'hosts.{host}.ssh' must name a host (an ssh config alias or "
            f"user@host), not {_toml_value(table['ssh'])}; put ssh's options in ssh_args."
        )
    for name in table.get("forward_env", []):
        if not ENV_NAME.match(name):
            raise ConfigError(
                f"{_place(path, text, 'forward_env')}: 'hosts.{host}.forward_env' names variables, "
                f"and {_toml_value(name)} is not a variable name."
            )


def _check_table(
    path: Path, text: str, section: str, values: dict[str, Any], keys: dict[str, Key], allow_tables: bool = False
) -> None:
    for name, value in values.items():
        if name not in keys:
            if allow_tables and isinstance(value, dict):
                continue  # a plugin's own table, validated by that plugin
            _unknown(path, text, name, section, list(keys))
        _check_type(path, text, section, name, value, keys[name].type)


def _check_type(path: Path, text: str, section: str, name: str, value: Any, kind: str) -> None:
    if kind == "prices":
        _check_prices(path, text, value)
        return
    if kind == "one-of":
        choices = SCHEMA[section][name].choices
        if value not in choices:
            _wrong_type(path, text, name, section, " or ".join(f'"{c}"' for c in choices), value)
        return
    ok = {
        "str": isinstance(value, str),
        "bool": isinstance(value, bool),
        "list[str]": isinstance(value, list) and all(isinstance(v, str) for v in value),
        "table[str]": isinstance(value, dict) and all(isinstance(v, str) for v in value.values()),
        "port-range": isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 65535 for v in value)
        and value[0] <= value[1],
        "count": isinstance(value, int) and not isinstance(value, bool) and value >= 0,
        "size": isinstance(value, str) and _parses(value, "size"),
        "duration": isinstance(value, str) and _parses(value, "duration"),
    }[kind]
    if section.startswith("agents.") and name == "command" and isinstance(value, str):
        ok = True
    key = SCHEMA.get(section, {}).get(name)
    if ok and key is not None and (key.template or key.forbidden):
        _check_text(path, text, section, name, value, key)
    if ok and section == "worktree" and name in ("copy", "symlink"):
        _check_entries(path, text, name, value)
    if not ok:
        expected = {
            "str": "a string",
            "bool": "true or false",
            "list[str]": "a list of strings",
            "table[str]": "a table of strings",
            "port-range": "two port numbers [low, high] with low <= high",
            "count": "a whole number, 0 or more",
            "size": 'a size such as "5GB", "500MB" or "1.5GiB" ("" for none)',
            "duration": 'a duration such as "2s", "500ms" or "1m" ("" for none)',
        }[kind]
        _wrong_type(path, text, name, section, expected, value)


def _check_prices(path: Path, text: str, value: Any) -> None:
    """`[usage] prices`: per model, a table of the four prices per million tokens, each a number 0 or more."""
    if not isinstance(value, dict):
        _wrong_type(path, text, "prices", "usage", "a table of models", value)
    for model, table in value.items():
        if not isinstance(table, dict):
            _wrong_type(path, text, model, "usage.prices", f"a table of {', '.join(PRICE_KEYS)}", table)
        for key, price in table.items():
            if key not in PRICE_KEYS:
                _unknown(path, text, key, f"usage.prices.{_toml_key(model)}", list(PRICE_KEYS))
            number = isinstance(price, (int, float)) and not isinstance(price, bool)
            if not number or price < 0 or price != price or price == float("inf"):
                _wrong_type(path, text, key, f"usage.prices.{_toml_key(model)}", "a number, 0 or more", price)
        missing = [key for key in PRICE_KEYS if key not in table]
        if missing:
            raise ConfigError(
                f"{_place(path, text, model)}: 'usage.prices.{_toml_key(model)}' must give the price of "
                f"{', '.join(PRICE_KEYS)} (per million tokens); add {', '.join(missing)}."
            )


def _toml_key(name: str) -> str:
    """A model name as a TOML key: bare when it can be, else quoted."""
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else _toml_value(name)


def _parses(value: str, kind: str) -> bool:
    try:
        (parse_size if kind == "size" else parse_duration)(value)
    except ValueError:
        return False
    return True


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(i?B)?\s*$", re.IGNORECASE)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h)?\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """ "5GB", "500MB", "1.5G", "1024" (bytes) as bytes; "" as 0. GB is 10^9, GiB 2^30."""
    if not text:
        return 0
    found = _SIZE.match(text)
    if found is None:
        raise ValueError(f'{text!r} is not a size: write it as "5GB", "500MB" or "1.5GiB"')
    number, unit, suffix = float(found.group(1)), found.group(2).upper(), (found.group(3) or "")
    base = 1024 if suffix.lower() == "ib" else 1000
    return int(number * base ** " KMGT".index(unit or " "))


def parse_duration(text: str) -> float:
    """ "2s", "500ms", "1m", "1h", "3" (seconds) as seconds; "" as 0."""
    if not text:
        return 0.0
    found = _DURATION.match(text)
    if found is None:
        raise ValueError(f'{text!r} is not a duration: write it as "2s", "500ms" or "1m"')
    unit = (found.group(2) or "s").lower()
    return float(found.group(1)) * {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}[unit]


def _check_text(path: Path, text: str, section: str, name: str, value: str, key: Key) -> None:
    """A template names no placeholder but {repo}, and the value holds none of the forbidden characters."""
    import string

    literal = value
    if key.template:
        try:
            fields = [field for _, field, _, _ in string.Formatter().parse(value) if field is not None]
        except ValueError:
            fields = ["{"]
        if any(field != "repo" for field in fields):
            raise ConfigError(
                f"{_place(path, text, name)}: '{section}.{name}' may use only the placeholder {{repo}}, "
                f"not {_toml_value(value)}; write a literal brace as {{{{ or }}}}."
            )
        literal = value.replace("{repo}", "")
    if key.forbidden and not value.strip():  # a name for tmux, which takes no empty one
        raise ConfigError(f"{_place(path, text, name)}: '{section}.{name}' may not be empty.")
    bad = sorted({c for c in literal if c in key.forbidden})
    if bad:
        raise ConfigError(
            f"{_place(path, text, name)}: '{section}.{name}' may not contain "
            f"{' or '.join(repr(c) for c in bad)} ({_toml_value(value)}); tmux gives these characters a meaning."
        )


def _check_entries(path: Path, text: str, name: str, entries: list[str]) -> None:
    """`[worktree] copy` and `symlink` take files of the checkout: never git's own folder, whose
    counterpart in a worktree is a file (and whose hooks and config orchestra must not spread)."""
    for entry in entries:
        parts = [part for part in entry.replace("\\", "/").split("/") if part not in ("", ".")]
        if parts and parts[0] == ".git":
            raise ConfigError(
                f"{_place(path, text, name)}: '[worktree] {name}' may not name {_toml_value(entry)}, "
                "which is inside git's own folder: list files of the checkout."
            )


def _unknown(path: Path, text: str, name: str, section: str, known: list[str]) -> None:
    import difflib  # only for a mistake: every command reads the configuration

    where = f"[{section}]" if section else "the top level"
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else f"; known keys are {', '.join(known)}."
    if section == "plugins" and not close:
        hint += f" A plugin's own settings go in a [plugins.{name}] table."
    raise ConfigError(f"{_place(path, text, name)}: unknown key '{name}' in {where}{hint}")


def _wrong_type(path: Path, text: str, name: str, section: str, expected: str, value: Any) -> None:
    full = f"{section}.{name}" if section else name
    got = {str: "a string", bool: "a boolean", int: "a number", float: "a number", list: "a list", dict: "a table"}.get(
        type(value), type(value).__name__
    )
    raise ConfigError(f"{_place(path, text, name)}: '{full}' must be {expected}, not {got} ({_toml_value(value)}).")


def _place(path: Path, text: str, name: str) -> str:
    line = _line_of(text, name)
    return f"{path}, line {line}" if line else str(path)


def _line_of(text: str, name: str) -> int | None:
    pattern = re.compile(rf"^\s*(\[+\s*)?([\w.\"-]*\.)?\"?{re.escape(name)}\"?\s*[=\].]")
    for number, line in enumerate(text.splitlines(), start=1):
        if pattern.match(line):
            return number
    return None


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def template(agent_defaults: dict[str, AgentSettings]) -> str:
    """The commented `orchestra.toml` that `orchestra init` writes: every default spelled out."""
    lines = [
        "# orchestra.toml: settings for orchestra in this repository.",
        "# Every key is shown with its default; delete what you do not change.",
        "# Reference: docs/configuration.md",
        "",
    ]
    for section, keys in SCHEMA.items():
        lines.append(f"[{section}]")
        for name, key in keys.items():
            lines.append(f"# {key.doc}")
            lines.append(f"{name} = {_toml_value(key.default)}")
        lines.append("")
    for kind, settings in sorted(agent_defaults.items()):
        lines.append(f"[agents.{kind}]")
        values: dict[str, object] = {"command": settings.command, "args": settings.args, "model": settings.model}
        values["env"] = settings.env
        values["mcp"] = settings.mcp
        for name, value in values.items():
            lines.append(f"# {AGENT_KEYS[name].doc}")
            lines.append(f"{name} = {_toml_value(value)}")
        lines.append("")
    return "\n".join(lines)


def _toml_value(value: Any) -> str:
    """One value on one line: arrays and tables inline, strings escaped by tomli-w."""
    import tomli_w

    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        inner = ", ".join(f"{tomli_w.dumps({k: ''}).split(' =')[0]} = {_toml_value(v)}" for k, v in value.items())
        return "{ " + inner + " }" if inner else "{}"
    return tomli_w.dumps({"v": value}).strip()[len("v = ") :]
