"""`init`'s file, in-process: every default written, no file replaced unless forced."""

from __future__ import annotations

import pytest

from orchestra import config
from orchestra.errors import OrchestraError
from orchestra.init import write_config


def test_the_template_has_every_default_validates_and_is_only_replaced_when_forced(project, repo):
    path = write_config(project)
    assert path == repo / "orchestra.toml"
    text = path.read_text()
    assert "[agents.claude]" in text and '"--permission-mode", "acceptEdits"' in text
    config.validate(config.read_file(path), path)
    path.write_text("# mine\n")
    with pytest.raises(OrchestraError, match="already exists: edit it, or run `orchestra init --force`"):
        write_config(project)
    assert path.read_text() == "# mine\n"
    assert write_config(project, force=True).read_text() == text
