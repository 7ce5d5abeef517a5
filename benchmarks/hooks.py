"""Claude Code, exactly: what orchestra's hooks cost and how soon they show, with the real Claude Code.

Three measurements in one run:

1. The hook handler's run time per event. A state folder (on the disk, where a repository lives)
   holds 20 recorded `claude` agents; the handler's command as spawn gives it (`python -I -S
   .../orchestra/hook_start.py --state-dir DIR --from-file TRANSLATOR NAME`) runs as
   Claude Code runs it, `/bin/sh -c '<command>'` with the event JSON on stdin, for realistic
   UserPromptSubmit, PermissionRequest and Stop payloads, each a real status change (running,
   waiting, done). Floors, taking turns with it: `/bin/sh -c '<python> -c pass'` with the same
   interpreter, and `<python> -S -c pass`. Every status change also starts a detached `_notify`
   process (the notifier plugins); the benchmark waits for it to end before the next
   measurement, and times it on its own. Target: median under 50 ms. When missed, or with
   `--importtime`, the costliest imports from `python -X importtime` are printed.

2. Latency with the real Claude Code 2.1.328 (offline, against the stand-in Messages API from
   tests/claude_api.py, run in this process), spawned with `orchestra spawn`:
   (a) waiting: the stand-in asks for a Bash command that acceptEdits does not cover; the time
       from "Do you want to proceed?" appearing on the agent's screen (`tmux capture-pane` every
       ~10 ms) to the agent's status being `waiting` in the state file (read every ~5 ms);
       `orchestra ls --json` is then run once to confirm it, and timed;
   (b) done: a Write, then a final text; from that text appearing on the screen to `done` in the
       state file, and from the Stop hook's own logged time to `done`.
   Each event is placed at the midpoint between the last poll that did not see it and the first
   that did. A fresh agent each time, killed afterwards (`orchestra kill --force`). Targets:
   median under 300 ms each. A negative latency means the hook beat the screen.

3. Idle CPU with 20 agents: 20 Claude Code agents each answer with a short text and sit `done`;
   then `orchestra up --no-attach`, 3 s to settle, and 20 s of watching the CPU time of every
   orchestra process: the board (`ls --watch`, window 0), with the git and tmux commands it ran
   and waited for (its cutime + cstime), and the 20 shells the launchers left (`_exec`). A process's own CPU
   time comes from /proc/PID/task/*/schedstat (nanoseconds) when it has one thread, else from
   utime + stime (10 ms ticks). Target: under 1% of one core. Claude Code's own processes and
   the tmux server are shown for context. The board also looks at tmux and git every 30 s
   whatever happens, so a 20 s window may miss that look: `--idle-seconds 31` always holds one.

Run: .venv/bin/python benchmarks/hooks.py [--runs 30] [--repetitions 5] [--agents 20]
     [--idle-seconds 20] [--only hook,latency,idle] [--importtime]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shlex
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

sys.path.append(str(c.ROOT / "tests"))  # the stand-in Messages API (standard library only)

import contextlib

from claude_api import ClaudeAPI, Text, ToolUse, claude_environment, claude_json
from orchestra.hook_handler import translator_file
from orchestra.models import Agent, Event, Status
from orchestra.state import State

CLAUDE_CODE_VERSION = "2.1.328"
HOOK_TARGET_MS = 50
LATENCY_TARGET_MS = 300
IDLE_TARGET_PERCENT = 1.0
RECORDED_AGENTS = 20
# A command that acceptEdits does not cover, so Claude Code asks a person before running it.
UNCOVERED = """python3 -c "open('x.txt','w').write('1')\""""
DIALOG = "Do you want to proceed?"
CLK_TCK = os.sysconf("SC_CLK_TCK")
SANDBOXES: list[str] = []  # this run's folders where Claude Code ran, to find leftover processes
LAST_MESSAGE = (
    "I added the token refresh endpoint.\n\n## What changed\n\n"
    "- `auth/api.py`: `POST /auth/refresh` takes the refresh token from the cookie, checks it against "
    "the store, rotates it and returns a new access token (15 minutes) with a new refresh cookie.\n"
    "- `auth/store.py`: refresh tokens are kept hashed (SHA-256) with their family id, so a reused token "
    "revokes the whole family.\n- `tests/test_refresh.py`: 9 tests (happy path, expired, reused, revoked, "
    "missing cookie, wrong audience, clock skew, concurrent refresh, logout).\n\n## Notes\n\n"
    "All 212 tests pass (`pytest -q`). I did not touch the login flow; the access token lifetime is read "
    "from `AUTH_ACCESS_TTL` as before. One thing for you to decide: a reused refresh token now logs the "
    "user out everywhere, which is the safe default but may surprise people with several tabs open."
)


def claude_bin() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "claude-orchestra" / f"claude-code-{CLAUDE_CODE_VERSION}" / "node_modules" / ".bin" / "claude"


def iso_seconds(text: str) -> float:
    return dt.datetime.fromisoformat(text).timestamp()


def ms(seconds: float) -> str:
    return f"{seconds * 1000:+.0f} ms"


def summary(samples: list[float]) -> str:
    """Median and spread of signed latencies in seconds."""
    values = sorted(s * 1000 for s in samples)
    return f"median {statistics.median(values):+6.0f} ms  (min {values[0]:+.0f} / max {values[-1]:+.0f} ms, n={len(values)})"


# -- 1. the hook handler's run time -------------------------------------------------------


def record_agents(state: State, folder: Path, count: int) -> list[Agent]:
    """`count` claude agents as spawn records them: long argv with the --settings JSON, patterns."""
    try:
        from orchestra_claude import BUSY_PATTERNS, WAITING_PATTERNS, hook_settings
    except ImportError:  # the bundled plugin is not importable: a plain record of similar size
        BUSY_PATTERNS, WAITING_PATTERNS = ["esc to interrupt"], ["Do you want to proceed\\?"]
        hook_settings = lambda command: json.dumps({"hooks": {"Stop": [{"hooks": [{"command": shlex.join(command)}]}]}})  # noqa: E731
    agents, translator = [], str(translator_file("orchestra_claude.hooks"))
    with state.update() as records:
        for number in range(count):
            name = f"agent-{number}"
            session_id = str(uuid.uuid4())
            worktree = folder / "project.worktrees" / name
            task = f"agent {number}: add the token refresh endpoint to the auth API, with tests"
            hook = c.hook_command("--state-dir", str(state.dir), "--from-file", translator, name)
            argv = [
                str(claude_bin()),
                "--permission-mode",
                "acceptEdits",
                "--settings",
                hook_settings(hook),
                "--session-id",
                session_id,
                "--",
                task,
            ]
            agent = Agent(
                name=name,
                task=task,
                agent="claude",
                branch=f"orchestra/{name}",
                base="0123456789abcdef" * 2 + "01234567",
                worktree=str(worktree),
                status=Status.DONE,
                session="orchestra-project",
                window=f"@{number + 1}",
                pane=f"%{number + 1}",
                session_id=session_id,
                port=4100 + number,
                last_message="Done.",
                transcript=str(folder / "home" / ".claude" / "projects" / name / f"{session_id}.jsonl"),
                last_hook="Stop",
                screen_patterns={"waiting": WAITING_PATTERNS, "busy": BUSY_PATTERNS},
                argv=argv,
            )
            records[name] = agent
            agents.append(agent)
    state.append_events([Event("spawned", agent=a.name, data={"task": a.task}) for a in agents])
    return agents


def payloads(agent: Agent) -> dict[str, bytes]:
    """Claude Code's JSON for the three events, with the fields 2.1.328 sends."""
    common = {
        "session_id": agent.session_id,
        "transcript_path": agent.transcript,
        "cwd": agent.worktree,
        "permission_mode": "acceptEdits",
    }
    events = {
        "UserPromptSubmit": {"hook_event_name": "UserPromptSubmit", "prompt": agent.task},
        "PermissionRequest": {
            "hook_event_name": "PermissionRequest",
            "tool_name": "Bash",
            "tool_input": {"command": UNCOVERED, "description": "Write 1 to x.txt"},
            "permission_suggestions": [
                {
                    "type": "addRules",
                    "rules": [{"toolName": "Bash", "ruleContent": "python3 -c:*"}],
                    "behavior": "allow",
                    "destination": "localSettings",
                }
            ],
        },
        "Stop": {"hook_event_name": "Stop", "stop_hook_active": False, "last_assistant_message": LAST_MESSAGE},
    }
    return {name: json.dumps({**common, **event}).encode() for name, event in events.items()}


def run_timed(argv: list[str], stdin: bytes, cwd: Path, env: dict) -> tuple[float, float]:
    """Wall and CPU time (with waited-for children) of one subprocess fed `stdin`."""
    elapsed, used, _ = run_output(argv, stdin, cwd, env)
    return elapsed, used


def run_output(argv: list[str], stdin: bytes, cwd: Path, env: dict) -> tuple[float, float, bytes]:
    """Wall time, CPU time (with waited-for children) and standard output of one subprocess."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(argv, input=stdin, cwd=cwd, env=env, capture_output=True)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise RuntimeError(f"{argv} failed ({result.returncode}): {result.stderr.decode()[-2000:]}")
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), result.stdout


def processes_with(text: str) -> list[int]:
    """Process ids whose command line contains `text`."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if text.encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                    found.append(int(entry))
            except OSError:
                continue
    return found


def wait_for_notifiers(state_dir: Path, timeout: float = 10.0) -> None:
    """Wait until the detached `_notify` processes for this state folder have ended."""
    deadline = time.monotonic() + timeout
    needle = f"_notify\0--state-dir\0{state_dir}"
    while processes_with(needle) and time.monotonic() < deadline:
        time.sleep(0.01)


def import_offenders(argv: list[str], stdin: bytes, cwd: Path, env: dict, runs: int = 5, top: int = 14) -> None:
    """The imports that cost most, by cumulative time (medians over `runs`), top two levels."""
    samples: dict[tuple[int, str], list[int]] = {}
    for _ in range(runs):
        result = subprocess.run(
            [c.PYTHON, "-X", "importtime", *argv], input=stdin, cwd=cwd, env=env, capture_output=True
        )
        for line in result.stderr.decode().splitlines():
            if not line.startswith("import time:") or "[us]" in line:
                continue
            _self_us, cumulative, name = line[len("import time:") :].split("|")
            depth = (len(name) - len(name.lstrip(" ")) - 1) // 2
            samples.setdefault((depth, name.strip()), []).append(int(cumulative))
    rows = sorted(((statistics.median(v), d, n) for (d, n), v in samples.items() if d <= 1), reverse=True)
    total = sum(statistics.median(v) for (d, _), v in samples.items() if d == 0)
    shown = " ".join(Path(a).name if "/" in a else a for a in argv[:3])
    print(f"  `python {shown} ...`: imports take {total / 1000:.0f} ms in all; the costliest (cumulative):")
    for us, depth, name in rows[:top]:
        print(f"    {us / 1000:6.1f} ms  {'  ' * depth}{name}")


def hook_handler(args) -> None:
    print(
        "\n== 1. the hook handler: `/bin/sh -c '<python> -I -S .../hook_start.py --state-dir DIR ... NAME'`, event JSON on stdin"
    )
    memory = c.memory_dir()
    with c.Sandbox("hooks-handler") as sb, c.Sandbox("hooks-handler-shm", parent=memory) as shm:
        # The state folder as a project has it (in .git, on the disk); the same in /dev/shm, where
        # fsync costs nothing, to show what the disk adds. `_notify` opens the project, so it is a repository.
        states = {}
        for box, where in ((sb, "disk"), (shm, "shm")):
            c.make_repository(box.dir / "project", 3, 3000, box.env)
            states[where] = State(box.dir / "project" / ".git" / "orchestra")
        agents = {where: record_agents(state, sb.dir, RECORDED_AGENTS) for where, state in states.items()}

        translator = str(translator_file("orchestra_claude.hooks"))

        def hook(where: str, agent: Agent) -> list[str]:
            command = c.hook_command("--state-dir", str(states[where].dir), "--from-file", translator, agent.name)
            return ["/bin/sh", "-c", shlex.join(command)]  # as Claude Code runs a hook's command

        floors = {
            "sh -c 'python -c pass'": ["/bin/sh", "-c", shlex.join([c.PYTHON, "-c", "pass"])],
            "python -c pass": [c.PYTHON, "-c", "pass"],
            "python -S -c pass": [c.PYTHON, "-S", "-c", "pass"],
        }
        events = ["UserPromptSubmit", "PermissionRequest", "Stop"]
        labels = {"disk": "_hook {}", "shm": "_hook {}, state in /dev/shm"}
        names = [labels[w].format(e) for w in labels for e in events] + list(floors)
        wall: dict[str, list[float]] = {n: [] for n in names}
        cpu: dict[str, list[float]] = {n: [] for n in names}
        cwd = sb.dir

        def measure(label: str, argv: list[str], stdin: bytes) -> None:
            elapsed, used = run_timed(argv, stdin, cwd, sb.env)
            wall[label].append(elapsed)
            cpu[label].append(used)
            for state in states.values():  # a status change started one; it must not weigh on the next run
                wait_for_notifiers(state.dir)

        for where in states:  # warm: bytecode caches, page cache
            for event, payload in payloads(agents[where][0]).items():
                measure(labels[where].format(event), hook(where, agents[where][0]), payload)
        for argv in floors.values():
            run_timed(argv, b"{}", cwd, sb.env)
        for values in (*wall.values(), *cpu.values()):
            values.clear()
        for run in range(args.runs):
            order = list(floors)[run % len(floors) :] + list(floors)[: run % len(floors)]
            places = list(states) if run % 2 == 0 else list(states)[::-1]
            for where in places:
                agent = agents[where][run % RECORDED_AGENTS]
                sent = payloads(agent)
                for event in events:  # in the order Claude Code sends them: each one moves the status
                    measure(labels[where].format(event), hook(where, agent), sent[event])
                    measure(order[0], floors[order[0]], sent[event])
                    order.append(order.pop(0))  # the floors take turns after the handler

        # Each of those runs was a real status change (done -> running -> waiting -> done).
        for where, state in states.items():
            changes = [e for e in state.read_events() if e.get("type") == "status"]
            expected = 3 * args.runs + 3
            if len(changes) != expected:
                print(f"  (warning: {len(changes)} status changes were logged in {where}, {expected} expected)")
            problems = [e for e in state.read_events() if e.get("type") in ("hook-error", "plugin-error")]
            if problems:
                print(f"  (warning: the handler logged {len(problems)} problem(s), e.g. {problems[0].get('data')})")

        # Where the time goes, measured in this (warm) process: the handler's work without start-up
        # or imports (starting the detached notifier included), and starting a notifier alone;
        # then that notifier on its own.
        from orchestra import hook_handler as handler_module
        from orchestra import lifecycle

        state, work, popen = states["disk"], [], []
        for run in range(args.runs):
            agent = agents["disk"][run % RECORDED_AGENTS]
            for payload in payloads(agent).values():
                begun = time.perf_counter()
                changed = handler_module.handle(state, agent.name, payload, "orchestra_claude.hooks")
                work.append(time.perf_counter() - begun)
            wait_for_notifiers(state.dir)
            begun = time.perf_counter()
            lifecycle.notify_in_background(state, [changed])
            popen.append(time.perf_counter() - begun)
            wait_for_notifiers(state.dir)
        event = json.dumps(
            Event(
                "status", agent=agents["disk"][1].name, status="done", data={"from": "running", "hook": "Stop"}
            ).to_dict()
        )
        notify_argv = [c.PYTHON, "-m", "orchestra", "_notify", "--state-dir", str(state.dir), event]
        run_timed(notify_argv, b"", cwd, sb.env)
        notify = [run_timed(notify_argv, b"", cwd, sb.env) for _ in range(5)]

        floor = c.median_ms(wall["sh -c 'python -c pass'"])
        size = state.path.stat().st_size
        print(
            f"  {RECORDED_AGENTS} agents recorded (state.json {size / 1000:.0f} KB); {args.runs} runs of each event, "
            f"each a status change; floors in between"
        )
        print(f"  {'':44} {'median':>9}  {'- floor':>8}  {'CPU':>6}  {'target':>10}  spread")
        together: dict[str, list[float]] = {"disk": [], "shm": []}
        cpu_disk = [x for e in events for x in cpu[labels["disk"].format(e)]]
        for label in names:
            median = c.median_ms(wall[label])
            is_hook = label.startswith("_hook")
            extra = f"{median - floor:+6.0f} ms" if is_hook else ""
            target = f"< {HOOK_TARGET_MS} ms {c.verdict(median < HOOK_TARGET_MS)}" if is_hook else ""
            if is_hook:
                together["shm" if "shm" in label else "disk"] += wall[label]
            print(
                f"  {label:44} {median:6.1f} ms  {extra:>9}  {c.median_ms(cpu[label]):3.0f} ms  {target:>10}  ({c.spread(wall[label])})"
            )
        every = c.median_ms(together["disk"])
        print(
            f"  the hook handler, all three events (state on the disk): median {every:.1f} ms ({c.spread(together['disk'])}); "
            f"target < {HOOK_TARGET_MS} ms: {c.verdict(every < HOOK_TARGET_MS)}"
        )
        python = c.median_ms(wall["python -c pass"])
        print(
            f"  against its floors in this run: {every / python:.2f}x `python -c pass` (target <= 2.5x: "
            f"{c.verdict(every <= 2.5 * python)}), {every / floor:.2f}x `sh -c 'python -c pass'` "
            f"(target <= 1.5x: {c.verdict(every <= 1.5 * floor)})"
        )
        print(
            f"  its CPU time (user + system, with /bin/sh; less disturbed by other load): median "
            f"{c.median_ms(cpu_disk):.1f} ms, under {HOOK_TARGET_MS} ms: {c.verdict(c.median_ms(cpu_disk) < HOOK_TARGET_MS)}"
        )
        print(
            f"  the same with the state in /dev/shm: median {c.median_ms(together['shm']):.1f} ms ({c.spread(together['shm'])})"
        )
        print(
            f"  inside it (measured in-process): handling the event (read, lock, write + fsync, log, start the notifier) "
            f"{c.median_ms(work):.1f} ms (max {max(work) * 1000:.0f}); of which starting the detached `_notify` {c.median_ms(popen):.1f} ms"
        )
        print(
            f"  that `_notify` (notifier plugins, off the agent's path), on its own: "
            f"{c.median_ms([w for w, _ in notify]):.0f} ms wall, {c.median_ms([u for _, u in notify]):.0f} ms CPU (median of 5)"
        )
        if every >= HOOK_TARGET_MS or args.importtime:
            import_offenders(
                c.hook_command("--state-dir", str(state.dir), "--from-file", translator, agents["disk"][0].name)[1:],
                payloads(agents["disk"][0])["UserPromptSubmit"],
                cwd,
                sb.env,
            )
            import_offenders(["-c", "pass"], b"", cwd, sb.env, top=6)


# -- 2. latency with the real Claude Code -------------------------------------------------


class Project:
    """A repository in a sandbox, set up for the real Claude Code against the stand-in API."""

    def __init__(self, sb: c.Sandbox, api: ClaudeAPI, claude: Path):
        self.sb, self.api = sb, api
        SANDBOXES.append(str(sb.dir))
        self.repo = sb.dir / "project"
        c.make_repository(self.repo, 3, 3000, sb.env)
        (self.repo / "orchestra.toml").write_text(f"[agents.claude]\ncommand = [{json.dumps(str(claude))}]\n")
        sb.run([c.GIT, "add", "orchestra.toml"], self.repo)
        sb.run([c.GIT, "commit", "-qm", "configure the claude agent"], self.repo)
        home = Path(sb.env["HOME"])
        # As tests/claude_support.py's claude_home: onboarded, the main checkout trusted, offline and quiet.
        (home / ".claude.json").write_text(json.dumps(claude_json(self.repo.resolve())))
        for name in list(sb.env):
            if name.startswith(("ANTHROPIC_", "CLAUDE")):
                del sb.env[name]
        sb.env.update({"XDG_CONFIG_HOME": str(home / ".config"), **claude_environment(api.url)})
        self.state = State(self.repo / ".git" / "orchestra")

    def shut_down(self, timeout: float = 20.0) -> None:
        """Kill the tmux server and wait until Claude Code and its last hook handlers are gone: a
        SessionEnd handler running after the sandbox is removed would make its state folder again."""
        self.sb.kill_server()
        deadline = time.monotonic() + timeout
        while [p for p in processes_with(str(self.sb.dir)) if p != os.getpid()] and time.monotonic() < deadline:
            time.sleep(0.1)

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc) -> None:
        self.shut_down()

    def orchestra(self, *args: str) -> subprocess.CompletedProcess:
        return self.sb.run([c.ORCHESTRA, *args], self.repo)

    def spawn(self, *tasks: str, name: str | None = None) -> list[dict]:
        return json.loads(
            self.orchestra("spawn", "--no-attach", "--json", *tasks, *(["--name", name] if name else [])).stdout
        )

    def statuses(self) -> dict[str, str]:
        try:
            data = json.loads(self.state.path.read_bytes())
        except (OSError, ValueError):
            return {}
        return {name: record.get("status") for name, record in data.get("agents", {}).items()}

    def screen(self, pane: str) -> str | None:
        result = subprocess.run(
            [c.TMUX, "-L", self.sb.socket, "capture-pane", "-p", "-t", pane],
            env=self.sb.env,
            capture_output=True,
            text=True,
        )
        return result.stdout if result.returncode == 0 else None

    def hook_time(self, name: str, hook: str, timeout: float = 5.0) -> float | None:
        """The logged time of the agent's first `hook` event. The handler writes the state before
        it appends to the event log, so the event may come a moment after the status."""
        deadline = time.monotonic() + timeout
        while True:
            times = [
                e["time"]
                for e in self.state.read_events()
                if e.get("type") == "hook" and e.get("agent") == name and e.get("data", {}).get("hook") == hook
            ]
            if times or time.monotonic() > deadline:
                return iso_seconds(times[0]) if times else None
            time.sleep(0.01)


class FirstSeen(threading.Thread):
    """Polls `probe` every `interval` s until it is true; `at` is the midpoint between the last
    poll that said no and the first that said yes (wall clock), `gap` their distance."""

    def __init__(self, probe: Callable[[], bool], interval: float, timeout: float):
        super().__init__(daemon=True)
        self.probe, self.interval, self.timeout = probe, interval, timeout
        self.at: float | None = None
        self.gap: float | None = None

    def run(self) -> None:
        deadline = time.time() + self.timeout
        last_no = time.time()
        while time.time() < deadline:
            start = time.time()
            seen = self.probe()
            observed = (start + time.time()) / 2
            if seen:
                self.at, self.gap = (last_no + observed) / 2, observed - last_no
                return
            last_no = observed
            time.sleep(self.interval)


def watch(
    project: Project, pane: str, name: str, on_screen: str, status: str, timeout: float = 60
) -> tuple[FirstSeen, FirstSeen]:
    def screen_shows() -> bool:
        text = project.screen(pane)
        return bool(text) and on_screen in text

    screen = FirstSeen(screen_shows, 0.010, timeout)
    state = FirstSeen(lambda: project.statuses().get(name) == status, 0.005, timeout)
    screen.start()
    state.start()
    screen.join(timeout + 5)
    state.join(timeout + 5)
    if screen.at is None or state.at is None:
        shown = project.screen(pane) or "(pane gone)"
        raise RuntimeError(
            f"{name}: screen {'saw' if screen.at else 'never showed'} {on_screen!r}, state "
            f"{'reached' if state.at else 'never reached'} {status!r} (it shows {project.statuses().get(name)!r}); "
            f"screen:\n{shown[-1500:]}"
        )
    return screen, state


def latency(args, api: ClaudeAPI, claude: Path) -> None:
    print(
        f"\n== 2. latency with the real Claude Code {CLAUDE_CODE_VERSION} (stand-in API), {args.repetitions} fresh agents each"
    )
    waiting, waiting_hook, ls_times, ls_cpu = [], [], [], []
    done, done_hook, stop_vs_text, starts, gaps = [], [], [], [], []
    with c.Sandbox("hooks-latency") as sb, Project(sb, api, claude) as project:
        for rep in range(args.repetitions):
            # (a) a permission prompt: from the dialog on screen to `waiting` in the state
            task = f"[w{rep:02d}] run the script"
            api.script(
                [ToolUse("Bash", {"command": UNCOVERED, "description": "Write 1 to x.txt"}), Text("Ran it.")],
                prompt=task,
            )
            began = time.time()
            (agent,) = project.spawn(task, name=f"wait-{rep}")
            screen, state = watch(project, agent["pane"], agent["name"], DIALOG, "waiting")
            starts.append(screen.at - began)
            gaps += [screen.gap, state.gap]
            waiting.append(state.at - screen.at)
            hooked = project.hook_time(agent["name"], "PermissionRequest")
            if hooked is not None:
                waiting_hook.append(hooked - screen.at)
            elapsed, used, out = run_output([c.ORCHESTRA, "ls", "--json"], b"", project.repo, sb.env)
            shown = {a["name"]: a for a in json.loads(out)}[agent["name"]]
            if shown["status"] != "waiting":
                raise RuntimeError(f"`orchestra ls --json` shows {agent['name']} as {shown['status']}, not waiting")
            ls_times.append(elapsed)
            ls_cpu.append(used)
            project.orchestra("kill", "--force", agent["name"])

            # (b) the end of a turn: from the final text on screen to `done` in the state
            marker = f"kumquat{rep:02d}"
            task = f"[d{rep:02d}] write the notes"
            api.script(
                [
                    ToolUse("Write", {"file_path": "notes.txt", "content": "notes\n"}),
                    Text(f"Wrote notes.txt ({marker})."),
                ],
                prompt=task,
            )
            began = time.time()
            (agent,) = project.spawn(task, name=f"done-{rep}")
            screen, state = watch(project, agent["pane"], agent["name"], marker, "done")
            starts.append(screen.at - began)
            gaps += [screen.gap, state.gap]
            done.append(state.at - screen.at)
            stopped = project.hook_time(agent["name"], "Stop")
            if stopped is not None:
                done_hook.append(state.at - stopped)
                stop_vs_text.append(stopped - screen.at)
            project.orchestra("kill", "--force", agent["name"])
            print(f"  repetition {rep + 1}: waiting {ms(waiting[-1])}, done {ms(done[-1])}")

    print(
        f"  each agent: spawn to its first reply on screen {statistics.median(starts):.1f} s (median); "
        f"poll resolution: median {c.median_ms(gaps):.0f} ms between a 'no' and the 'yes' that followed"
    )
    print(
        f"  (a) dialog on screen -> waiting in state:   {summary(waiting)}  "
        f"target < {LATENCY_TARGET_MS} ms: {c.verdict(statistics.median(waiting) * 1000 < LATENCY_TARGET_MS)}"
    )
    if waiting_hook:
        print(f"      dialog on screen -> PermissionRequest logged by the handler: {summary(waiting_hook)}")
    print(
        f"      then `orchestra ls --json` shows waiting: {c.median_ms(ls_times):.0f} ms per call, "
        f"{c.median_ms(ls_cpu):.0f} ms CPU ({c.spread(ls_times)})"
    )
    print(
        f"  (b) final text on screen -> done in state:  {summary(done)}  "
        f"target < {LATENCY_TARGET_MS} ms: {c.verdict(statistics.median(done) * 1000 < LATENCY_TARGET_MS)}"
    )
    if done_hook:
        print(f"      Stop hook logged -> done in state:       {summary(done_hook)}")
        print(f"      final text on screen -> Stop hook logged: {summary(stop_vs_text)}")
    print(
        f"  for comparison, a tool that waits for Claude Code's Notification shows `waiting` about 6 s after the dialog "
        f"(the permission_prompt Notification, seen with 2.1.328), i.e. about +6000 ms against {ms(statistics.median(waiting))} "
        f"here, and `done` only with the idle_prompt Notification, 60 s after the turn ended (cited, not waited for)"
    )


# -- 3. idle CPU with 20 agents -----------------------------------------------------------


def proc_stat(pid: int) -> tuple[int, int, int, int, int, int] | None:
    """(ppid, utime + stime, cutime + cstime, starttime, rss pages, threads) of a process; times in clock ticks."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (
        int(fields[1]),
        int(fields[11]) + int(fields[12]),
        int(fields[13]) + int(fields[14]),
        int(fields[19]),
        int(fields[21]),
        int(fields[17]),
    )


def on_cpu_ns(pid: int) -> int | None:
    """Nanoseconds on a CPU, summed over the process's threads (/proc/PID/task/*/schedstat): far
    finer than utime + stime, which count 10 ms ticks, but threads that ended are left out."""
    total = 0
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            try:
                total += int(Path(f"/proc/{pid}/task/{task}/schedstat").read_text().split()[0])
            except (OSError, IndexError, ValueError):
                continue
    except OSError:
        return None
    return total


def all_processes() -> dict[int, tuple[int, int, int, int, int, int]]:
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := proc_stat(int(entry))) is not None:
            found[int(entry)] = stat
    return found


def descendants(root: int, table: dict[int, tuple]) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, stat in table.items():
        children.setdefault(stat[0], []).append(pid)
    found, todo = set(), [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def idle(args, api: ClaudeAPI, claude: Path) -> None:
    count = args.agents
    print(f"\n== 3. idle CPU: {count} Claude Code agents sitting `done`, the board running, {args.idle_seconds:.0f} s")
    with c.Sandbox("hooks-idle") as sb, Project(sb, api, claude) as project:
        tasks = [f"idle agent {n:02d}" for n in range(count)]
        for n, task in enumerate(tasks):
            api.script([Text(f"Agent {n:02d} has nothing to change.")], prompt=task)
        began = time.perf_counter()
        spawned = project.spawn(*tasks)
        spawn_time = time.perf_counter() - began
        names = {a["name"] for a in spawned}
        deadline = time.monotonic() + args.idle_timeout
        while time.monotonic() < deadline:
            statuses = project.statuses()
            if all(statuses.get(n) == "done" for n in names):
                break
            time.sleep(0.25)
        else:
            shown = {n: statuses.get(n) for n in sorted(names)}
            raise RuntimeError(f"not all {count} agents were done after {args.idle_timeout:.0f} s: {shown}")
        print(
            f"  spawn of {count} returned in {spawn_time:.1f} s; all {count} done {time.perf_counter() - began:.1f} s after it began"
        )
        print(f"  orchestra up --no-attach: {project.orchestra('up', '--no-attach').stdout.strip().splitlines()[-1]}")
        time.sleep(3)

        panes = sb.run(
            [c.TMUX, "-L", sb.socket, "list-panes", "-a", "-F", "#{pane_pid}\t#{window_index}\t#{window_name}"],
            project.repo,
        ).stdout
        server = int(sb.run([c.TMUX, "-L", sb.socket, "display-message", "-p", "#{pid}"], project.repo).stdout.strip())
        board, launchers = None, []
        for line in panes.splitlines():
            pid, index, name = line.split("\t")
            if index == "0":
                board = int(pid)
            elif name in names:
                launchers.append(int(pid))
        if board is None or len(launchers) != count:
            raise RuntimeError(f"expected the board and {count} launchers, tmux shows:\n{panes}")
        for pid, what in [(board, "ls --watch"), *[(p, "_exited") for p in launchers]]:  # the agent's waiting shell
            if what not in cmdline(pid):
                raise RuntimeError(f"pane process {pid} is `{cmdline(pid)}`, not orchestra's {what}")

        events_before = len(project.state.read_events())
        start_table, start = all_processes(), time.perf_counter()
        start_ns = {pid: on_cpu_ns(pid) for pid in start_table}
        claude_pids = set().union(*(descendants(p, start_table) for p in launchers))
        time.sleep(args.idle_seconds)
        end_table, elapsed = all_processes(), time.perf_counter() - start
        end_ns = {pid: on_cpu_ns(pid) for pid in end_table}
        events = project.state.read_events()[events_before:]

        def used(pids, children: bool = False) -> float:
            """Own CPU seconds, or with `children` those of the children it reaped (ticks). Own CPU is
            read from schedstat (ns) for a process with one thread, from utime + stime otherwise."""
            total = 0.0
            for pid in pids:
                a, b = start_table.get(pid), end_table.get(pid)
                if not (a and b and a[3] == b[3]):  # not the same process at both ends
                    continue
                if children:
                    total += (b[2] - a[2]) / CLK_TCK
                elif a[5] == b[5] == 1 and start_ns.get(pid) is not None and end_ns.get(pid) is not None:
                    total += (end_ns[pid] - start_ns[pid]) / 1e9
                else:
                    total += (b[1] - a[1]) / CLK_TCK
            return total

        board_own, board_children = used([board]), used([board], True)
        launchers_own = used(launchers) + used(launchers, True)
        claude_own, claude_children = used(claude_pids), used(claude_pids, True)
        tmux_server = used([server])
        total = board_own + board_children + launchers_own
        share = lambda seconds: seconds / elapsed * 100  # noqa: E731
        rss = sum(end_table[p][4] for p in claude_pids if p in end_table) * os.sysconf("SC_PAGE_SIZE")
        print(f"  over {elapsed:.1f} s (CPU as % of one core):")
        rows = [
            ("board (`ls --watch`), its own CPU", board_own),
            ("git/tmux commands the board ran and reaped", board_children),
            (f"{count} agents' waiting shells, children reaped", launchers_own),
        ]
        for label, seconds in rows:
            print(f"    {label:46} {share(seconds):6.3f}%  ({seconds * 1000:.1f} ms)")
        print(
            f"    {'orchestra in all':46} {share(total):6.3f}%  ({total * 1000:.1f} ms)  "
            f"target < {IDLE_TARGET_PERCENT:.0f}%: {c.verdict(share(total) < IDLE_TARGET_PERCENT)}"
        )
        hooks = [e for e in events if e.get("type") == "hook"]
        kinds = sorted({e.get("data", {}).get("hook", "?") for e in hooks})
        print(
            f"    hook events logged meanwhile: {len(hooks)}{' (' + ', '.join(kinds) + ')' if kinds else ''} "
            f"(a hook handler's CPU would count under Claude Code's reaped children below)"
        )
        if board_children == 0:
            print(
                "    (the board asks tmux and git only when a state, event-log or index file changed, and every "
                "30 s regardless; no such look fell in this window: --idle-seconds 31 includes one)"
            )
        print(
            f"  for context: {len(claude_pids)} Claude Code processes {share(claude_own):.1f}% "
            f"(+ {share(claude_children):.2f}% in children they reaped, hook handlers included), "
            f"{rss / 2**30:.1f} GiB resident; the tmux server {share(tmux_server):.2f}%"
        )


# -- main ----------------------------------------------------------------------------------


def leftovers(folders: list[str]) -> None:
    """Processes still running from this run's sandboxes (their command line names the folder); ended by id."""
    import signal

    for folder in folders:
        for pid in processes_with(folder):
            if pid != os.getpid():
                print(f"  (ending a leftover process {pid}: {cmdline(pid)[:120]})")
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGTERM)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=30, help="runs of each hook event (1)")
    parser.add_argument("--repetitions", type=int, default=5, help="fresh agents for each latency (2)")
    parser.add_argument("--agents", type=int, default=20, help="idle Claude Code agents (3)")
    parser.add_argument("--idle-seconds", type=float, default=20, help="how long to watch the idle CPU (3)")
    parser.add_argument("--idle-timeout", type=float, default=180, help="how long the agents may take to be done (3)")
    parser.add_argument("--only", default="hook,latency,idle", help="comma-separated: hook, latency, idle")
    parser.add_argument("--importtime", action="store_true", help="print the hook handler's costliest imports anyway")
    args = parser.parse_args()
    parts = set(args.only.split(","))
    c.require_tools()
    started = time.perf_counter()
    print(f"machine: {c.machine()}")
    print(
        "load average at the start: {:.2f} {:.2f} {:.2f} (1, 5, 15 min; other jobs share this machine)".format(
            *os.getloadavg()
        )
    )
    if "hook" in parts:
        hook_handler(args)
    if parts & {"latency", "idle"}:
        claude = claude_bin()
        if not claude.exists():
            sys.exit(
                f"benchmark: Claude Code {CLAUDE_CODE_VERSION} is not installed at {claude}; run `bash shell/setup.sh --test`."
            )
        try:
            with ClaudeAPI() as api:
                if "latency" in parts:
                    latency(args, api, claude)
                if "idle" in parts:
                    idle(args, api, claude)
        finally:
            time.sleep(0.5)
            leftovers(SANDBOXES)
    print("\nload average at the end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    print(f"total run time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
