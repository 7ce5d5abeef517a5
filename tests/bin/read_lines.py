"""An agent that appends each line typed into its terminal to the file named by its first
argument (a person's cooked terminal: a line arrives when Enter is pressed)."""

import sys

out = sys.argv[1]
for line in sys.stdin:
    with open(out, "a", encoding="utf-8") as handle:
        handle.write(line)
