"""How an agent's tmux window starts its launcher: `<python> -I -S <this file> --state-dir DIR NAME`.

A spawn of ten opens ten windows at once, and each launcher's start competes with the spawn for
the processors, so it starts as the hook handler does (`orchestra.hook_start`): `-S` skips the
site module (the scan of site-packages, its `.pth` files, an editable install's import finder)
and `-I` the environment's `PYTHON*` variables and the current folder, which is the agent's
worktree (a repository with its own `orchestra` package must not run in its place); running a
file rather than `-m` spares runpy and its imports. The launcher needs only the standard
library and orchestra itself, found beside this file. It ends by becoming the agent's shell
(`launcher.exec_agent`); what it starts afterwards (`_exited`, notifiers) is `python -m
orchestra`, with the site module.
"""

import sys
from os.path import dirname

sys.path.insert(0, dirname(dirname(__file__)))

from orchestra.launcher import exec_agent  # found only once its folder is on the path

sys.exit(exec_agent(sys.argv[1:]))
