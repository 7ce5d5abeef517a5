"""`python -m orchestra_slack VARIABLE`: post the JSON message on stdin to the webhook in $VARIABLE.

The notifier starts this detached when it runs inside a command a person waits for. Nobody
watches this process, so it ends quietly whatever happens.
"""

from __future__ import annotations

import json
import os
import sys

from orchestra_slack.webhook import SlackError, post


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        return 2
    url = os.environ.get(argv[0])
    if not url:
        return 0
    try:
        post(url, json.loads(sys.stdin.buffer.read()), variable=argv[0])
    except (SlackError, ValueError):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
