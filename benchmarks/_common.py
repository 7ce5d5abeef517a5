"""What the benchmark scripts share: a sandbox (own HOME, ORCHESTRA_HOME, git config and tmux
socket), a generated repository, timing of whole subprocesses, and a few statistics.

Nothing here touches the user's tmux server, git config or home: every tmux call goes to a `-L`
socket whose name is unique to the run, and that server is killed when the sandbox closes.
"""

from __future__ import annotations

import json
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
# ORCHESTRA_BENCH_PYTHON: another interpreter with orchestra installed (a normal install, say, whose
# start has no editable finder to load, as this checkout's .venv has).
PYTHON = os.environ.get("ORCHESTRA_BENCH_PYTHON") or (
    str(VENV_BIN / "python") if (VENV_BIN / "python").exists() else sys.executable
)
ORCHESTRA = str(VENV_BIN / "orchestra") if (VENV_BIN / "orchestra").exists() else shutil.which("orchestra")
TMUX = shutil.which("tmux")
GIT = shutil.which("git")
_hook_start: list[str] = []


def hook_command(*args: str) -> list[str]:
    """The hook handler's command as spawn gives it to an agent CLI (`orchestra.launch.hook_argv`),
    for PYTHON's own install of orchestra."""
    if not _hook_start:
        probe = "import json; from orchestra.launch import hook_argv; print(json.dumps(hook_argv()))"
        _hook_start.extend(json.loads(subprocess.run([PYTHON, "-c", probe], capture_output=True, check=True).stdout))
    return [*_hook_start, *args]


_sockets = 0


class Sandbox:
    """A temporary HOME, ORCHESTRA_HOME and GIT_CONFIG_GLOBAL, and private tmux sockets.

    `env` is the environment for every subprocess of the benchmark. `new_socket()` gives a
    fresh tmux socket name (and makes it the one orchestra uses); `close()` kills every tmux
    server the sandbox named and removes the folder.
    """

    def __init__(self, label: str, demo_delay: str | None = None, parent: str | None = None):
        self.dir = Path(tempfile.mkdtemp(prefix=f"orchestra-bench-{label}-", dir=parent)).resolve()
        self.label = label
        self.sockets: list[str] = []
        home = self.dir / "home"
        home.mkdir()
        (self.dir / "orchestra-home").mkdir()
        gitconfig = self.dir / "gitconfig"
        gitconfig.write_text(
            "[user]\n\tname = Orchestra Bench\n\temail = bench@orchestra.invalid\n"
            "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n",
            encoding="utf-8",
        )
        env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE")}
        env.update(
            {
                "HOME": str(home),
                "ORCHESTRA_HOME": str(self.dir / "orchestra-home"),
                "GIT_CONFIG_GLOBAL": str(gitconfig),
                "GIT_CONFIG_NOSYSTEM": "1",
                "PATH": f"{VENV_BIN}{os.pathsep}{env.get('PATH', os.defpath)}",
            }
        )
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # bytecode caching on, as a user has it
        env.pop("ORCHESTRA_DEBUG", None)
        env.pop("VIRTUAL_ENV", None)
        if demo_delay is not None:
            env["ORCHESTRA_DEMO_DELAY"] = demo_delay
        self.env = env
        self.new_socket()

    def new_socket(self) -> str:
        global _sockets
        _sockets += 1
        name = f"orchestra-bench-{self.label}-{os.getpid()}-{_sockets}"
        self.sockets.append(name)
        self.env["ORCHESTRA_TMUX_SOCKET"] = name
        return name

    @property
    def socket(self) -> str:
        return self.env["ORCHESTRA_TMUX_SOCKET"]

    def kill_server(self, socket: str | None = None) -> None:
        subprocess.run(
            [TMUX, "-L", socket or self.socket, "kill-server"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )

    def close(self) -> None:
        for socket in self.sockets:
            self.kill_server(socket)
        time.sleep(0.2)  # let the panes' processes go before their folders do
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def run(
        self, argv: Sequence[str], cwd: Path | str, check: bool = True, env: dict | None = None
    ) -> subprocess.CompletedProcess:
        result = subprocess.run(list(argv), cwd=cwd, env=env or self.env, capture_output=True, text=True)
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(map(str, argv))} failed ({result.returncode}): {result.stderr.strip()}")
        return result

    def timed(self, argv: Sequence[str], cwd: Path | str, env: dict | None = None) -> float:
        """Wall time in seconds of one subprocess, start to exit; raises if it fails."""
        return self.timed_cpu(argv, cwd, env)[0]

    def timed_cpu(self, argv: Sequence[str], cwd: Path | str, env: dict | None = None) -> tuple[float, float]:
        """Wall time and CPU time (user + system, of the process and the children it waited for).

        CPU time is far less disturbed by other load on the machine than wall time, but it leaves
        out work done elsewhere: by the tmux server, and by processes tmux starts (agents, board).
        """
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        result = subprocess.run(list(argv), cwd=cwd, env=env or self.env, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(map(str, argv))[:200]} failed ({result.returncode}): {result.stderr.strip()[:2000]}"
            )
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return elapsed, cpu


def memory_dir() -> str | None:
    """/dev/shm when it is a writable tmpfs: file creation there costs no disk or journal time."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


# -- repositories -----------------------------------------------------------------------

WORDS = [
    "def",
    "return",
    "self",
    "import",
    "from",
    "class",
    "value",
    "result",
    "error",
    "config",
    "agent",
    "tmux",
    "window",
    "pane",
    "branch",
    "worktree",
    "commit",
    "status",
    "event",
    "state",
    "record",
    "lock",
    "path",
    "file",
    "name",
    "task",
    "port",
    "session",
    "board",
    "merge",
    "clean",
    "spawn",
    "kill",
    "resume",
    "for",
    "while",
    "if",
    "else",
    "elif",
    "try",
    "except",
    "finally",
    "with",
    "as",
    "yield",
    "lambda",
    "none",
    "true",
    "false",
    "list",
    "dict",
    "str",
    "int",
    "float",
    "bytes",
    "open",
    "read",
    "write",
    "close",
    "data",
    "index",
]


def make_repository(path: Path, files: int, total_bytes: int, env: dict, seed: int = 1) -> None:
    """A git repository at `path` with `files` text files of about `total_bytes` in all, one commit, packed.

    Files look like source code (lines of words), in folders of 100, with sizes spread between
    a quarter and seven quarters of the average so that a few are large and many are small.
    """
    rng = random.Random(seed)
    lines = [
        "    " * rng.randint(0, 3) + " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12))) + "\n"
        for _ in range(4000)
    ]
    average = total_bytes / files
    path.mkdir(parents=True)
    for number in range(files):
        folder = path / "src" / f"pkg{number // 100:03d}"
        if number % 100 == 0:
            folder.mkdir(parents=True)
        target = int(average * rng.uniform(0.25, 1.75))
        chunks, size = [], 0
        while size < target:
            line = lines[rng.randrange(len(lines))]
            chunks.append(line)
            size += len(line)
        (folder / f"mod{number % 100:03d}.py").write_text("".join(chunks), encoding="utf-8")
    (path / "README.md").write_text("# bench\n\nA generated repository for orchestra's benchmarks.\n", encoding="utf-8")
    # Packed, as a cloned repository is: checkouts read one pack, not thousands of loose objects.
    for args in (["init", "--quiet"], ["add", "--all"], ["commit", "--quiet", "-m", "generated"], ["gc", "--quiet"]):
        subprocess.run([GIT, *args], cwd=path, env=env, check=True, capture_output=True)


def copy_repository(template: Path, target: Path, env: dict) -> None:
    """A byte-for-byte copy of a repository, its index refreshed so it reads as a user's clean checkout."""
    subprocess.run(["cp", "-a", str(template), str(target)], check=True)
    subprocess.run([GIT, "update-index", "-q", "--refresh"], cwd=target, env=env, check=False, capture_output=True)


def repository_size(path: Path) -> tuple[int, int]:
    """Tracked files and their total bytes in `path` (the working tree, .git excluded)."""
    count = size = 0
    for folder, dirs, names in os.walk(path):
        if ".git" in dirs:
            dirs.remove(".git")
        for name in names:
            count += 1
            size += os.path.getsize(os.path.join(folder, name))
    return count, size


# -- statistics and printing ------------------------------------------------------------


def median_ms(samples: Sequence[float]) -> float:
    return statistics.median(samples) * 1000


def spread(samples: Sequence[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    return f"min {ms[0]:.0f} / max {ms[-1]:.0f} ms, n={len(ms)}"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = []
    for tool, args in (("git", [GIT, "--version"]), ("tmux", [TMUX, "-V"])):
        try:
            versions.append(subprocess.run(args, capture_output=True, text=True).stdout.strip())
        except (OSError, TypeError):
            versions.append(f"{tool} missing")
    return (
        f"{time.strftime('%Y-%m-%d %H:%M %Z')}; {os.cpu_count()} cores ({cpu}); {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}; {'; '.join(versions)}"
    )


def require_tools() -> None:
    missing = [name for name, path in (("tmux", TMUX), ("git", GIT), ("orchestra", ORCHESTRA)) if not path]
    if missing:
        sys.exit(f"benchmark: {', '.join(missing)} not found; run from the project with its .venv installed.")


# -- counting the commands a program runs -----------------------------------------------


def counting_path(folder: Path, tools: Sequence[str], env: dict) -> tuple[str, Path]:
    """A PATH whose first folder holds wrapper scripts for `tools`: each logs its arguments, then
    runs the real program. Returns the PATH and the log file (one line per call: tool, arguments)."""
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "calls.log"
    log.touch()
    for tool in tools:
        real = shutil.which(tool, path=env["PATH"])
        wrapper = folder / tool
        wrapper.write_text(
            f'#!/bin/sh\nprintf "%s %s\\n" {tool} "$*" >> "{log}"\nexec "{real}" "$@"\n', encoding="utf-8"
        )
        wrapper.chmod(0o755)
    return f"{folder}{os.pathsep}{env['PATH']}", log


def count_calls(log: Path) -> dict[str, dict[str, int]]:
    """{tool: {subcommand: calls}} from a wrapper log; the subcommand is the first word that is not an option."""
    counts: dict[str, dict[str, int]] = {}
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        tool, _, rest = line.partition(" ")
        words = rest.split()
        sub, skip = "?", False
        for word in words:
            if skip:
                skip = False
                continue
            if word in ("-L", "-S", "-C", "-c", "-f"):  # options that take a value (tmux and git)
                skip = True
                continue
            if not word.startswith("-"):
                sub = word
                break
        counts.setdefault(tool, {}).setdefault(sub, 0)
        counts[tool][sub] += 1
    return counts


def describe_calls(counts: dict[str, dict[str, int]], tool: str) -> str:
    found = counts.get(tool, {})
    total = sum(found.values())
    detail = ", ".join(f"{sub} x{n}" for sub, n in sorted(found.items(), key=lambda kv: -kv[1]))
    return f"{total} {tool} call{'s' if total != 1 else ''}" + (f" ({detail})" if detail else "")


def rotate(commands: dict, runs: int) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Each command (returning wall and CPU seconds) once untimed, to warm the caches, then `runs`
    times each, taking turns in rotating order, so that load falls on all of them alike."""
    for run in commands.values():
        run()
    wall: dict[str, list[float]] = {name: [] for name in commands}
    cpu: dict[str, list[float]] = {name: [] for name in commands}
    names = list(commands)
    for n in range(runs):
        for name in names[n % len(names) :] + names[: n % len(names)]:
            took, used = commands[name]()
            wall[name].append(took)
            cpu[name].append(used)
    return wall, cpu
