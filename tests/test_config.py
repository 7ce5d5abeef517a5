"""Configuration: defaults, user-level and project files merged, validation with file, key, line and a hint."""

from __future__ import annotations

import sys

import pytest

from orchestra import config
from orchestra.errors import ConfigError
from orchestra.models import AgentSettings

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib


def load(tmp_path, project_text=None, user_text=None):
    root = tmp_path / "checkout"
    root.mkdir(exist_ok=True)
    if project_text is not None:
        (root / "orchestra.toml").write_text(project_text)
    if user_text is not None:
        user = config.user_config_dir() / "config.toml"
        user.parent.mkdir(parents=True, exist_ok=True)
        user.write_text(user_text)
    return config.load(root, root)


def test_defaults_without_any_file(tmp_path):
    cfg = load(tmp_path)
    assert cfg.orchestra["default_agent"] == "claude"
    assert cfg.worktree["copy"] == [".env"]
    assert cfg.ports["range"] == [4100, 4199]
    assert cfg.sources == []


def test_project_overrides_user_which_overrides_defaults(tmp_path):
    cfg = load(
        tmp_path,
        project_text='[orchestra]\nbase = "develop"\n[agents.claude]\nargs = []\n',
        user_text='[orchestra]\nbase = "main"\ndefault_agent = "demo"\n[agents.claude]\nmodel = "opus"\n[plugins.slack]\nwebhook_url_env = "X"\n',
    )
    assert cfg.orchestra["base"] == "develop"
    assert cfg.orchestra["default_agent"] == "demo"
    settings = cfg.agent_settings("claude", AgentSettings(["claude"], ["--a"], {"K": "1"}))
    assert (
        settings.command == ["claude"]
        and settings.args == []
        and settings.model == "opus"
        and settings.env == {"K": "1"}
    )
    assert cfg.plugin_settings("slack") == {"webhook_url_env": "X"}
    assert len(cfg.sources) == 2


def test_lookup_walks_up_to_the_checkout_root_only(tmp_path):
    root = tmp_path / "checkout"
    (root / "a" / "b").mkdir(parents=True)
    (root / "orchestra.toml").write_text('[orchestra]\nbase = "x"\n')
    (tmp_path / "orchestra.toml").write_text("this is not toml")  # above the root: never read
    assert config.find_project_file(root / "a" / "b", root) == root / "orchestra.toml"
    assert config.load(root / "a" / "b", root).orchestra["base"] == "x"


def test_agent_command_may_be_a_single_string(tmp_path):
    cfg = load(tmp_path, project_text='[agents.mine]\ncommand = "my-agent"\n')
    assert cfg.agents["mine"]["command"] == ["my-agent"]


@pytest.mark.parametrize(
    ("text", "phrases"),
    [
        (
            '[orchestra]\ndefault_agnet = "x"\n',
            ["line 2", "unknown key 'default_agnet' in [orchestra]", "did you mean 'default_agent'"],
        ),
        ("[prots]\n", ["line 1", "unknown key 'prots'", "did you mean 'ports'"]),
        ("[agents.claude]\nargz = []\n", ["line 2", "[agents.claude]", "did you mean 'args'"]),
        ("[ports]\nrange = [1, 2, 3]\n", ["line 2", "'ports.range' must be two port numbers"]),
        ("[ports]\nrange = [70000, 70001]\n", ["'ports.range' must be two port numbers"]),
        ("[agents.x]\nenv = { A = 1 }\n", ["'agents.x.env' must be a table of strings"]),
        ("[merge]\ncheck = true\n", ["'merge.check' must be a string, not a boolean (true)"]),
        ("orchestra = 1\n", ["'orchestra' must be a table"]),
        ('[orchestra]\nbase = "unterminated\n', ["is not valid TOML", "line 2"]),
        (
            '[orchestra]\nworktree_root = "../{rpo}"\n',
            ["line 2", "'orchestra.worktree_root' may use only the placeholder {repo}"],
        ),
        ('[orchestra]\nsession = "team-{"\n', ["'orchestra.session' may use only the placeholder {repo}"]),
        ('[orchestra]\nsession = "team:{repo}"\n', ["line 2", "'orchestra.session' may not contain ':'"]),
        ('[orchestra]\nsession = "team$x"\n', ["line 2", "'orchestra.session' may not contain '$'"]),
        ('[orchestra]\nsession = "team#(date)"\n', ["line 2", "'orchestra.session' may not contain '#'"]),
        ('[orchestra]\nsession = " "\n', ["line 2", "'orchestra.session' may not be empty"]),
        ('[worktree]\ncopy = ["./.git/hooks"]\n', ["line 2", "inside git's own folder"]),
    ],
)
def test_invalid_files_name_file_key_and_line(tmp_path, text, phrases):
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, project_text=text)
    message = str(caught.value)
    assert "orchestra.toml" in message
    for phrase in phrases:
        assert phrase in message


def test_templates_with_repo_and_doubled_braces_load(tmp_path):
    loaded = load(tmp_path, project_text='[orchestra]\nsession = "team-{repo}-{{x}}"\nworktree_root = "/w/{repo}"\n')
    assert loaded.orchestra["session"] == "team-{repo}-{{x}}"


def test_plugin_tables_are_left_to_their_plugins(tmp_path):
    cfg = load(tmp_path, project_text='[plugins]\ndisabled = ["demo"]\n[plugins.anything]\nwhatever = 3\n')
    assert cfg.plugins["disabled"] == ["demo"]
    assert cfg.plugin_settings("anything") == {"whatever": 3}


def test_template_parses_and_holds_every_default(tmp_path):
    text = config.template({"claude": AgentSettings(["claude"], ["--permission-mode", "acceptEdits"], {"A": "b c"})})
    data = tomllib.loads(text)
    config.validate(data, tmp_path / "orchestra.toml")
    for section, keys in config.SCHEMA.items():
        for name, key in keys.items():
            assert data[section][name] == key.default
    assert data["agents"]["claude"] == {
        "command": ["claude"],
        "args": ["--permission-mode", "acceptEdits"],
        "model": "",
        "env": {"A": "b c"},
        "mcp": True,
    }
