"""An agent that reads its terminal in raw mode, as agent CLIs do, until Enter (CR), and writes
what it got, as bytes, to the file named by its first argument."""

import os
import sys
import termios
import tty

out = sys.argv[1]
tty.setraw(sys.stdin.fileno(), termios.TCSANOW)
received = b""
while not received.endswith(b"\r"):
    received += os.read(sys.stdin.fileno(), 65536)
with open(out + ".partial", "wb") as handle:
    handle.write(received)
os.replace(out + ".partial", out)
