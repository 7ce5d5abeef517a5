"""How an agent CLI starts orchestra's hook handler: `<python> -I -S <this file> --state-dir DIR
[--from-file TRANSLATOR] NAME`.

It runs for every hook event of every agent, so it starts as little of Python as it can: `-S`
skips the site module (the scan of site-packages, its `.pth` files and an editable install's
import finder: most of an interpreter's start-up), and `-I` leaves out the environment's
`PYTHON*` variables, the user's site folder and the current folder. The handler needs only the
standard library and orchestra itself, found beside this file; the kind's translator is loaded
from its file (`--from-file`), so no plugin's folder need be on the import path.
"""

import os
import sys
from os.path import dirname

sys.path.insert(0, dirname(dirname(__file__)))

from orchestra.hook_handler import main  # found only once its folder is on the path

code = main(sys.argv[1:])
# Ended without Python's teardown of every module (a millisecond or two, on every hook event):
# nothing here has exit handlers, and what it wrote is flushed first.
sys.stdout.flush()
sys.stderr.flush()
os._exit(code)
