"""`orchestra send`: what is typed into an agent arrives whole, whoever else is typing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from support import wait_for, wait_statuses

TESTS = Path(__file__).parent


def test_concurrent_sends_to_one_agent_each_arrive_as_one_line(orchestra, repo, tmp_path):
    """The dashboard and the CLI may send at once: each text is pasted and submitted whole."""
    out = tmp_path / "lines"
    reader = TESTS / "bin" / "read_lines.py"
    (repo / "orchestra.toml").write_text(f'[agents.lines]\ncommand = ["{sys.executable}", "{reader}", "{out}"]\n')
    orchestra("spawn", "--agent", "lines", "--name", "lines", "--no-attach", "read lines")
    wait_statuses(orchestra, {"lines": "running"})
    texts = [f"hello {n} " + "x" * 200 for n in range(6)]
    sends = [
        subprocess.Popen(
            [sys.executable, "-m", "orchestra", "send", "lines", text],
            cwd=repo,
            env=dict(os.environ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for text in texts
    ]
    assert [send.wait(timeout=60) for send in sends] == [0] * len(texts)
    wait_for(lambda: out.exists() and out.read_text().count("\n") >= len(texts), what="every line to arrive")
    assert sorted(out.read_text().splitlines()) == sorted(texts)


def test_sends_to_different_agents_from_one_process_never_swap_texts(orchestra, repo, tmp_path, monkeypatch):
    """The dashboard sends from one process, on several threads at once: each text reaches its own agent."""
    from concurrent.futures import ThreadPoolExecutor

    from orchestra.context import Context
    from orchestra.sending import send

    reader = TESTS / "bin" / "read_lines.py"
    (repo / "orchestra.toml").write_text(f'[agents.lines]\ncommand = ["{sys.executable}", "{reader}", "{{task}}"]\n')
    names = [f"lines-{n}" for n in range(4)]
    for name in names:
        orchestra("spawn", "--agent", "lines", "--name", name, "--no-attach", str(tmp_path / name))
    wait_statuses(orchestra, dict.fromkeys(names, "running"))
    monkeypatch.chdir(repo)
    ctx = Context.open()
    texts = {name: [f"{name} says {n}" for n in range(3)] for name in names}
    with ThreadPoolExecutor(len(names)) as pool:
        jobs = [pool.submit(lambda n=name: [send(ctx, n, text) for text in texts[n]]) for name in names]
        for job in jobs:
            job.result()
    for name in names:
        out = tmp_path / name
        wait_for(lambda o=out: o.exists() and o.read_text().count("\n") >= 3, what=f"{name}'s lines")
        assert out.read_text().splitlines() == texts[name]
