"""How long orchestra takes to start: `orchestra --version`, `orchestra ls` and `ls --tmux` with no agents.

Each command runs as a subprocess through the installed `orchestra` command, as a user
runs it, in a repository with no agents, with a private tmux server running (one idle session),
as when the user works in tmux. The floor is `python -c pass` with the same interpreter: what
any Python command costs before it imports anything of its own. The commands take turns, so
noise on the machine falls on all of them alike.

If `orchestra ls` misses its target (the `ls` target from ls.py, 250 ms), or `--version` or
`ls --tmux` (the tmux status-bar line) misses its 100 ms, the modules that cost most to import
are printed, from `python -X importtime` (medians over 5 runs); `--importtime` prints them anyway.

Run: .venv/bin/python benchmarks/startup.py [--runs 20] [--importtime]
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

TARGETS_MS = {"orchestra --version": 100, "orchestra ls": 250, "orchestra ls --tmux": 100}


def import_offenders(sb: c.Sandbox, repo: Path, args: list[str], runs: int = 5, top: int = 12) -> None:
    """The imports that cost most, by cumulative time (medians over `runs`), top two levels."""
    samples: dict[tuple[int, str], list[int]] = {}
    for _ in range(runs):
        result = subprocess.run(
            [c.PYTHON, "-X", "importtime", c.ORCHESTRA, *args], cwd=repo, env=sb.env, capture_output=True, text=True
        )
        for line in result.stderr.splitlines():
            if not line.startswith("import time:") or "[us]" in line:
                continue
            _self_us, cumulative, name = line[len("import time:") :].split("|")
            depth = (len(name) - len(name.lstrip(" ")) - 1) // 2  # one space after '|', two per level
            samples.setdefault((depth, name.strip()), []).append(int(cumulative))
    rows = sorted(
        ((statistics.median(v), depth, name) for (depth, name), v in samples.items() if depth <= 1),
        reverse=True,
    )
    total = sum(statistics.median(v) for (depth, _), v in samples.items() if depth == 0)
    print(f"\n  `orchestra {' '.join(args)}`: imports take {total / 1000:.0f} ms in all; the costliest (cumulative):")
    for us, depth, name in rows[:top]:
        print(f"    {us / 1000:6.1f} ms  {'  ' * depth}{name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--importtime", action="store_true", help="print the costliest imports even when on target")
    args = parser.parse_args()
    c.require_tools()
    started = time.perf_counter()
    print(f"machine: {c.machine()}")
    with c.Sandbox("startup") as sb:
        repo = sb.dir / "empty"
        c.make_repository(repo, 3, 3000, sb.env)
        sb.run([c.TMUX, "-L", sb.socket, "new-session", "-d", "-s", "user", "-x", "200", "-y", "50"], repo)
        commands = {
            "python -c pass": [c.PYTHON, "-c", "pass"],
            # the floor of anything a hook runs: agent CLIs start their hooks through a shell
            "sh -c 'python -c pass'": ["/bin/sh", "-c", f"{shlex.quote(c.PYTHON)} -c pass"],
            "orchestra --version": [c.ORCHESTRA, "--version"],
            "orchestra ls": [c.ORCHESTRA, "ls"],
            "orchestra ls --json": [c.ORCHESTRA, "ls", "--json"],
            "orchestra ls --tmux": [c.ORCHESTRA, "ls", "--tmux"],  # a tmux status bar runs it every few seconds
        }
        if "no agents yet" not in sb.run(commands["orchestra ls"], repo).stdout:
            raise RuntimeError("`orchestra ls` did not report an empty project")
        for argv in commands.values():  # warm: bytecode caches, page cache
            sb.timed(argv, repo)
        samples: dict[str, list[float]] = {name: [] for name in commands}
        names = list(commands)
        for run in range(args.runs):
            for name in names[run % len(names) :] + names[: run % len(names)]:
                samples[name].append(sb.timed(commands[name], repo))

        floor = c.median_ms(samples["python -c pass"])
        shell_floor = c.median_ms(samples["sh -c 'python -c pass'"])
        print(f"\n{args.runs} runs each, in a repository with no agents")
        print(f"{'':22} {'median':>9}  {'- floor':>8}  {'/ floor':>7}  {'target':>9}  spread")
        missed = []
        for name in names:
            median = c.median_ms(samples[name])
            target = TARGETS_MS.get(name)
            verdict = f"< {target} ms {c.verdict(median < target)}" if target else ""
            if target and median >= target:
                missed.append(name)
            extra = "" if name == "python -c pass" else f"{median - floor:+6.0f} ms  {median / floor:6.1f}x"
            print(f"{name:22} {median:6.0f} ms  {extra:>17}  {verdict:>9}  ({c.spread(samples[name])})")

        if missed or args.importtime:
            also = [n for n in ("orchestra --version", "orchestra ls --tmux") if n in missed or args.importtime]
            for name in ["orchestra ls", *also]:
                import_offenders(sb, repo, name.split()[1:])
        version = c.median_ms(samples["orchestra --version"])
        print(
            f"\norchestra --version: {version / floor:.2f}x `python -c pass` (target <= 2.5x: "
            f"{c.verdict(version <= 2.5 * floor)}), {version / shell_floor:.2f}x `sh -c 'python -c pass'` "
            f"(target <= 1.5x: {c.verdict(version <= 1.5 * shell_floor)})"
        )
    print(f"\ntotal run time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
