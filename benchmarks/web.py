"""The dashboard (`orchestra web`): how soon a status change shows in the browser, and what the
server costs while nothing happens.

(a) Latency. Five demo agents sit idle (ORCHESTRA_DEMO_DELAY=600). The real server runs as a
subprocess (`orchestra web --no-open --port 0`) and a real headless Chromium (Debian's, driven
by Playwright) shows the page. A MutationObserver in the page records, for every change of a
card's `data-status`, the wall-clock time (`performance.timeOrigin + performance.now()`). The
script then moves one agent between `running` and `done` by writing the state file with
`orchestra.state` (as the hook handler does) and appending the status event; the latency is the
time from the state file's rename to the DOM change. Samples are spread over the server's tick
by a random pause before each. Target: median under 300 ms.

(b) Idle cost. 50 agents (45 demo agents idling, 5 finished), the board in window 0 closed, one
browser connected and nothing happening: the server's CPU time (utime + stime from
/proc/PID/stat) over 20 s as a share of one core, and its resident memory (VmRSS, the highest
of one sample a second). Targets: under 2% of one core, under 100 MB. The CPU of the tmux and
git processes it runs (its waited-for children, cutime + cstime) is printed beside it.

`--screenshot PATH` instead makes a project with agents in several states and saves a picture
of the page (docs/dashboard.png).

Run: .venv/bin/python benchmarks/web.py [--samples 20] [--agents 50] [--seconds 20] [--screenshot PATH]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import select
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LATENCY_TARGET_MS = 300
CPU_TARGET = 0.02
RSS_TARGET_MB = 100

OBSERVER = """() => {
  window.seen = [];
  new MutationObserver((records) => {
    const at = performance.timeOrigin + performance.now();
    for (const r of records) window.seen.push([r.target.dataset.agent, r.target.dataset.status, at]);
  }).observe(document.getElementById("agents"), {subtree: true, attributes: true, attributeFilter: ["data-status"]});
}"""
SHOWN = """([name, status, after]) => {
  const hit = window.seen.find(([n, s, at]) => n === name && s === status && at >= after);
  return hit ? hit[2] : null;
}"""


class Server:
    """`orchestra web --no-open --port 0` in `repo`, its URL read from its first line."""

    def __init__(self, sb: c.Sandbox, repo: Path):
        self.process = subprocess.Popen(
            [c.ORCHESTRA, "web", "--no-open", "--port", "0"],
            cwd=repo,
            env=sb.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        ready, _, _ = select.select([self.process.stdout], [], [], 30)
        line = self.process.stdout.readline() if ready else ""
        found = re.search(r"http://\S+", line)
        if not found:
            self.close()
            raise RuntimeError(f"orchestra web printed no URL: {line!r} {self.process.stderr.read()[:2000]}")
        self.url = found.group(0)

    def cpu(self) -> tuple[float, float]:
        """Seconds of CPU: the server's own (utime + stime), and its waited-for children's."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        tick = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / tick, (int(fields[13]) + int(fields[14])) / tick

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def spawn(sb: c.Sandbox, repo: Path, tasks: list[str], delay: str, names: list[str] | None = None) -> None:
    env = {**sb.env, "ORCHESTRA_DEMO_DELAY": delay}
    if names:
        for name, task in zip(names, tasks, strict=True):
            sb.run([c.ORCHESTRA, "spawn", "--agent", "demo", "--no-attach", "--name", name, task], repo, env=env)
        return
    for start in range(0, len(tasks), 10):
        sb.run([c.ORCHESTRA, "spawn", "--agent", "demo", "--no-attach", *tasks[start : start + 10]], repo, env=env)


def wait_statuses(sb: c.Sandbox, repo: Path, wanted: dict[str, int], timeout: float = 180) -> None:
    import json

    deadline = time.monotonic() + timeout
    while True:
        found = [a["status"] for a in json.loads(sb.run([c.ORCHESTRA, "ls", "--json"], repo).stdout)]
        if all(found.count(status) == count for status, count in wanted.items()):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"agents did not settle: {sorted(found)}")
        time.sleep(0.5)


def close_board(sb: c.Sandbox, repo: Path) -> None:
    """The board in window 0 polls too; closed, so that only the server is measured."""
    session = f"orchestra-{repo.name}"
    sb.run([c.TMUX, "-L", sb.socket, "kill-window", "-t", f"={session}:0"], repo, check=False)


def set_status(repo: Path, name: str, status: str, **fields) -> float:
    """Move an agent as the hook handler does; returns the wall time the state file was in place."""
    from orchestra.models import Event, Status
    from orchestra.state import State

    state = State(repo / ".git" / "orchestra")
    with state.update() as agents:
        before = agents[name].status
        agents[name].set_status(Status(status), **fields)
    written = time.time()
    state.append_events([Event("status", agent=name, status=status, data={"from": before.value, "by": "benchmark"})])
    return written


def wait_js(page, function: str, arg=None, timeout: float = 30):
    """Poll a JavaScript function until it returns something truthy. (Playwright's own
    wait_for_function evaluates its predicate with eval, which the page's CSP refuses.)"""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = page.evaluate(function, arg)
        if value:
            return value
        time.sleep(0.02)
    raise RuntimeError(f"timed out after {timeout}s waiting for {function[:80]}")


def browser_page(playwright, url: str, width: int = 1300, height: int = 900):
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(url)
    wait_js(page, "() => document.getElementById('connection').dataset.state === 'live'")
    return browser, page


def latency(sb: c.Sandbox, playwright, samples: int) -> float:
    repo = sb.dir / "latency"
    c.make_repository(repo, 20, 60_000, sb.env)
    names = [f"agent-{i}" for i in range(1, 6)]
    spawn(sb, repo, [f"idle task {i}" for i in range(1, 6)], "600", names)
    wait_statuses(sb, repo, {"running": 5})
    close_board(sb, repo)
    server = Server(sb, repo)
    try:
        browser, page = browser_page(playwright, server.url)
        wait_js(page, "() => document.querySelectorAll('article.card').length === 5")
        page.evaluate(OBSERVER)
        delays = []
        for number in range(samples):
            name = names[number % len(names)]
            status = "done" if number // len(names) % 2 == 0 else "running"
            time.sleep(random.uniform(0.3, 0.8))  # land anywhere in the server's tick
            written = set_status(repo, name, status)
            shown = wait_js(page, SHOWN, [name, status, written * 1000], timeout=10)
            delays.append((shown - written * 1000) / 1000)
        browser.close()
    finally:
        server.close()
    median = c.median_ms(delays)
    print(f"\n(a) status change in the state file -> the page's DOM, {samples} samples, 5 agents")
    ok = c.verdict(median < LATENCY_TARGET_MS)
    print(f"  median {median:.0f} ms ({c.spread(delays)}); target under {LATENCY_TARGET_MS} ms: {ok}")
    return median


def idle(sb: c.Sandbox, playwright, agents: int, seconds: float) -> None:
    sb.new_socket()
    repo = sb.dir / "idle"
    c.make_repository(repo, 20, 60_000, sb.env)
    finished = min(5, agents)
    spawn(sb, repo, [f"quick task {i}" for i in range(1, finished + 1)], "0")
    spawn(sb, repo, [f"idle task {i}" for i in range(1, agents - finished + 1)], "600")
    wait_statuses(sb, repo, {"exited": finished, "running": agents - finished})
    close_board(sb, repo)
    server = Server(sb, repo)
    try:
        time.sleep(3)  # uvicorn starting up
        start_cpu, start = server.cpu(), time.perf_counter()
        time.sleep(10)
        alone = (sum(server.cpu()) - sum(start_cpu)) / (time.perf_counter() - start)
        browser, page = browser_page(playwright, server.url)
        wait_js(page, f"() => document.querySelectorAll('article.card').length === {agents}", timeout=60)
        time.sleep(5)  # the first screens and diffs are read; then nothing changes
        before, start, rss = server.cpu(), time.perf_counter(), []
        while time.perf_counter() - start < seconds:
            rss.append(server.rss_mb())
            time.sleep(1)
        after, elapsed = server.cpu(), time.perf_counter() - start
        browser.close()
    finally:
        server.close()
    own, children = (after[0] - before[0]) / elapsed, (after[1] - before[1]) / elapsed
    print(
        f"\n(b) {agents} agents ({agents - finished} idle demo agents, {finished} exited), one browser, nothing happening"
    )
    ok = c.verdict(own < CPU_TARGET)
    print(
        f"  server CPU over {elapsed:.0f} s: {own * 100:.2f}% of one core; target under {CPU_TARGET * 100:.0f}%: {ok}"
    )
    print(f"  tmux and git commands it ran: {children * 100:.2f}% of one core more")
    print(f"  before any browser connected (10 s): {alone * 100:.2f}% of one core (server and children)")
    ok = c.verdict(max(rss) < RSS_TARGET_MB)
    print(
        f"  server RSS: max {max(rss):.0f} MB, median {statistics.median(rss):.0f} MB; target under {RSS_TARGET_MB} MB: {ok}"
    )


def screenshot(sb: c.Sandbox, playwright, path: Path) -> None:
    repo = sb.dir / "shop-api"
    c.make_repository(repo, 20, 60_000, sb.env)
    spawn(sb, repo, ["Ask before changing the orders schema: add a shipped_at column"], "0", ["orders-schema"])
    finished = ["Write tests for the auth API", "Run the checks on the payment module and fail if they fail"]
    spawn(sb, repo, finished, "0", ["auth-tests", "payment-checks"])
    idling = ["Optimize the slow product search queries", "Document the public REST endpoints"]
    spawn(sb, repo, idling, "600", ["search-speed", "api-docs"])
    wait_statuses(sb, repo, {"waiting": 1, "exited": 1, "failed": 1, "running": 2})
    set_status(
        repo, "api-docs", "done", last_message="Documented 14 endpoints in docs/api.md; two of them need examples."
    )
    server = Server(sb, repo)
    try:
        browser, page = browser_page(playwright, server.url, 1400, 900)
        wait_js(page, "() => [...document.querySelectorAll('.screen')].filter(s => !s.hidden).length === 5")
        page.screenshot(path=str(path), full_page=True)
        browser.close()
    finally:
        server.close()
    print(f"saved {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--screenshot", type=Path, help="save a picture of the page instead of measuring")
    args = parser.parse_args()
    c.require_tools()
    if not Path(CHROMIUM).exists():
        sys.exit(f"benchmark: {CHROMIUM} not found; run `bash shell/setup.sh --test`.")
    from playwright.sync_api import sync_playwright

    started = time.perf_counter()
    print(f"machine: {c.machine()}")
    with c.Sandbox("web", parent=c.memory_dir()) as sb, sync_playwright() as playwright:
        if args.screenshot:
            screenshot(sb, playwright, args.screenshot.resolve())
            return
        latency(sb, playwright, args.samples)
        idle(sb, playwright, args.agents, args.seconds)
    print(f"\ntotal run time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
