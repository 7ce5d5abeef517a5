"""A conflict handed back to the agent that wrote the work: orchestra's prompt typed at its prompt,
the agent brings its branch up to date and resolves the conflict, and the branch then merges.

Once with a scripted agent that reports its turns through orchestra's hook handler, once with the
real Claude Code against the stand-in model API, whose scripted model resolves the conflict with
its Bash, Read and Write tools."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from claude_api import Text, ToolUse
from orchestra import merging
from orchestra.context import Context
from orchestra.handback import hand_back, prompt_text
from orchestra.models import Agent
from orchestra.reconcile import find
from orchestra.spawning import TaskSpec, spawn, spawn_environment
from support import agents_json, git, screen, spawn_demo, wait_for, wait_observed, wait_statuses

TESTS = Path(__file__).parent
AGENT = TESTS / "bin" / "handback_agent.py"

NOTIFY_PROBE = """
import json, os
from orchestra.hookspecs import hookimpl

@hookimpl
def notifier(event):
    with open(os.environ["PROBE_LOG"], "a") as log:
        log.write(json.dumps(event.to_dict()) + "\\n")
"""


def test_the_prompt_says_what_moved_which_files_conflict_and_what_to_run():
    text = prompt_text("main", ["README.md", "src/app.py"])
    assert text.startswith("orchestra: the branch main has moved on since you started")
    assert "conflicts with it in README.md, src/app.py." in text
    assert "run `git merge main` in your worktree" in text and "`git commit --no-edit`" in text
    assert text.endswith("then finish as before; orchestra will merge your branch again.")
    rebase = prompt_text("release", ["a.txt"], "rebase")
    assert "run `git rebase release` in your worktree" in rebase and "`git rebase --continue`" in rebase
    assert "git merge" not in rebase
    # One line, whatever the paths hold: an agent that reads lines gets the whole prompt.
    odd = prompt_text("main", ["new\nline.txt", "tab\there"] + [f"f{n}" for n in range(25)])
    assert "\n" not in odd and "new\\nline.txt" in odd and "tab\\there" in odd
    assert "f17, and 7 more." in odd


def test_an_agent_that_is_not_idle_at_its_prompt_is_not_handed_back(project, isolated):
    (busy,) = spawn_demo(project, "busy", delay="60")
    (busy,) = wait_observed(project, {"busy": "running"})
    assert hand_back(project, busy, "main", ["README.md"]) is False
    assert "orchestra: the branch" not in screen(isolated, busy.pane)
    (_ended,) = spawn_demo(project, "ended")
    observed = {a.name: a for a in wait_observed(project, {"busy": "running", "ended": "exited"})}
    assert hand_back(project, observed["ended"], "main", ["README.md"]) is False
    assert [e for e in project.state.read_events() if e["type"] == "handback"] == []


def resolver(ctx: Context, task: str) -> Agent:
    result = spawn(ctx, [TaskSpec(task=task, agent="resolver")], spawn_environment())
    assert not result.failures, result.failures
    (agent,) = result.agents
    return agent


@pytest.mark.parametrize("strategy", ["merge", "rebase"])
def test_a_scripted_agent_resolves_the_conflict_handed_back_and_its_branch_merges(
    repo, monkeypatch, tmp_path, strategy
):
    prompts = tmp_path / "prompts"
    command = [sys.executable, str(AGENT), str(prompts), "README.md", "# the agent's readme"]
    (repo / "orchestra.toml").write_text(
        f"[agents.resolver]\ncommand = {json.dumps(command)}\n[merge]\nstrategy = {json.dumps(strategy)}\n"
    )
    git(repo, "add", "orchestra.toml")
    git(repo, "commit", "-qm", "configure the resolver agent")
    site = tmp_path / "site"  # a notifier plugin that writes down every event it hears
    (site / "notify_probe-0.1.dist-info").mkdir(parents=True)
    (site / "notify_probe.py").write_text(NOTIFY_PROBE)
    (site / "notify_probe-0.1.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: notify-probe\nVersion: 0.1\n"
    )
    (site / "notify_probe-0.1.dist-info" / "entry_points.txt").write_text("[orchestra]\nprobe = notify_probe\n")
    heard = tmp_path / "heard.ndjson"
    monkeypatch.setenv("PYTHONPATH", str(site))
    monkeypatch.setenv("PROBE_LOG", str(heard))
    monkeypatch.chdir(repo)
    ctx = Context.open()

    name = resolver(ctx, "rewrite the readme").name
    wait_observed(ctx, {name: "done"})
    (repo / "README.md").write_text("# main's readme\n")
    git(repo, "commit", "-qam", "main rewrites the readme")
    (failed,) = merging.merge(ctx, [name])
    assert not failed.ok and "conflicts in README.md" in failed.message

    assert hand_back(ctx, find(ctx, name), "main", ["README.md"]) is True
    wait_for(
        lambda: (
            find(ctx, name).last_message == "brought my branch up to date with main"
            and find(ctx, name).status.value == "done"
        ),
        what="the agent to resolve the conflict and be done",
    )
    assert prompts.read_text() == prompt_text("main", ["README.md"], strategy) + "\n"  # typed whole, one line
    (handback,) = [e for e in ctx.state.read_events() if e["type"] == "handback"]
    assert handback["agent"] == name and handback["data"] == {"target": "main", "files": ["README.md"]}
    wait_for(
        lambda: (
            heard.exists() and any(json.loads(line)["type"] == "handback" for line in heard.read_text().splitlines())
        ),
        what="the notifiers to hear of the handback",
    )

    (merged,) = merging.merge(ctx, [name])
    assert merged.ok, merged.message
    assert (repo / "README.md").read_text() == "# main's readme\n# the agent's readme\n"
    assert git(repo, "status", "--porcelain") == ""


# -- the real Claude Code against the stand-in model --------------------------------------------

RESOLVED = "# the project\n\nmain's note, and the agent's note, side by side.\n"


@pytest.mark.slow
def test_claude_code_resolves_the_conflict_handed_back_with_its_own_tools(orchestra, claude_home, claude_api):
    # Its git commands run without asking a person; file edits are covered by acceptEdits.
    (claude_home.repo / "orchestra.toml").write_text(
        f"[agents.claude]\ncommand = [{json.dumps(str(claude_home.bin))}]\n"
        'args = ["--permission-mode", "acceptEdits", "--allowedTools", "Bash(git:*)"]\n'
    )
    git(claude_home.repo, "commit", "-qam", "let the claude agent run git")
    task = "write the notes"
    claude_api.script(
        [ToolUse("Write", {"file_path": "NOTES.md", "content": "the agent's note\n"}), Text("Noted.")], prompt=task
    )
    orchestra("spawn", "--no-attach", task)
    (agent,) = wait_statuses(orchestra, {"write-the-notes": "done"}, timeout=40)
    worktree = Path(agent["worktree"])
    (claude_home.repo / "NOTES.md").write_text("main's note\n")
    git(claude_home.repo, "add", "NOTES.md")
    git(claude_home.repo, "commit", "-qm", "main writes its own notes")

    # sync commits the agent's loose work, meets the conflict, aborts it and names the file.
    result = orchestra("sync", "write-the-notes", "--json", check=False)
    assert result.returncode == 1
    (synced,) = json.loads(result.stdout)
    assert synced["conflicts"] == ["NOTES.md"] and synced["committed"]
    assert git(worktree, "status", "--porcelain") == "" and (worktree / "NOTES.md").read_text() == "the agent's note\n"

    claude_api.script(
        [
            ToolUse("Bash", {"command": "git merge main", "description": "Bring the branch up to date with main"}),
            ToolUse("Read", {"file_path": "NOTES.md"}),
            ToolUse("Write", {"file_path": "NOTES.md", "content": RESOLVED}),
            ToolUse("Bash", {"command": "git add NOTES.md", "description": "Mark the conflict resolved"}),
            ToolUse("Bash", {"command": "git commit --no-edit --quiet", "description": "Commit the merge"}),
            Text("Merged main and resolved NOTES.md."),
        ],
        prompt=task,
    )
    requests = len(claude_api.main_requests)
    ctx = Context.open(claude_home.repo)
    assert hand_back(ctx, find(ctx, "write-the-notes"), "main", ["NOTES.md"]) is True
    answered = lambda: [a for a in agents_json(orchestra) if a["last_message"] == "Merged main and resolved NOTES.md."]  # noqa: E731
    (agent,) = wait_for(answered, timeout=60, what="Claude Code to resolve the conflict")
    assert agent["status"] == "done"
    sent = json.dumps(
        [m for r in claude_api.main_requests[requests:] for m in r.body["messages"] if m["role"] == "user"]
    )
    assert json.dumps(prompt_text("main", ["NOTES.md"]))[1:-1] in sent  # the model was given orchestra's words
    merge_output = next(b for r in claude_api.main_requests[requests:] for b in r.tool_results)
    assert "CONFLICT" in json.dumps(merge_output)  # its `git merge main` met the conflict itself

    assert git(worktree, "status", "--porcelain") == ""
    assert git(worktree, "merge-base", "--is-ancestor", "main", "HEAD") == ""
    assert "merged into main" in orchestra("merge", "write-the-notes").stdout
    assert (claude_home.repo / "NOTES.md").read_text() == RESOLVED
