"""Posting one message to a Slack incoming webhook: bounded in time, retried, never naming the URL.

The webhook URL is a secret (whoever has it can post to the channel), so it appears in no
message this module produces: errors say what happened and which variable holds the URL.
Standard library only.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from orchestra.errors import OrchestraError

PER_TRY = 3.0  # seconds to wait on each network operation of one try
TOTAL = 10.0  # seconds after which a post is given up, retries and waits included
BACKOFF = 0.5  # first wait before a retry; doubled after each
RETRY_AFTER_CAP = 5.0  # the longest Retry-After honoured, in seconds


class SlackError(OrchestraError):
    """Slack did not take the message. The message never contains the webhook URL."""


def post(
    url: str,
    payload: dict[str, Any],
    *,
    variable: str = "the webhook variable",
    per_try: float = PER_TRY,
    total: float = TOTAL,
    backoff: float = BACKOFF,
) -> None:
    """POST `payload` as JSON to `url`; raise `SlackError` if Slack has not taken it within `total` s.

    A 429 is retried after its Retry-After (at most `RETRY_AFTER_CAP`), a 5xx, a timeout or a
    refused connection after an exponential backoff; any other answer is final. `variable`
    names where the URL came from, for the error message.
    """
    _check_url(url, variable)
    body = json.dumps(payload).encode()
    started = time.monotonic()
    deadline = started + total
    wait, tries = backoff, 0
    while True:
        tries += 1
        try:
            status, answer, retry_after = _send(url, body, max(0.05, min(per_try, deadline - time.monotonic())))
        except (TimeoutError, OSError) as error:  # URLError is an OSError
            problem, pause = _network_problem(error, per_try), wait
        except http.client.HTTPException as error:  # a broken answer
            problem, pause = f"Slack's answer could not be read ({type(error).__name__})", wait
        except ValueError:  # http.client.InvalidURL: control characters and the like
            raise SlackError(f"${variable} does not hold a valid URL; set it to the Slack webhook URL.") from None
        else:
            if 200 <= status < 300:
                return
            problem = f"Slack answered HTTP {status}" + (f" ({answer})" if answer else "")
            if status == 429:
                pause = min(retry_after if retry_after is not None else wait, RETRY_AFTER_CAP)
            elif status >= 500:
                pause = wait
            else:  # Slack's 4xx say the webhook or the message is wrong: trying again will not help
                raise SlackError(_redacted(f"{problem}; check the webhook URL in ${variable}.", url))
        if time.monotonic() + pause >= deadline:
            spent = time.monotonic() - started
            raise SlackError(_redacted(f"gave up after {tries} tries in {spent:.1f} s: {problem}.", url))
        time.sleep(pause)
        wait *= 2


def _send(url: str, body: bytes, timeout: float) -> tuple[int, str, float | None]:
    """One try: the HTTP status, Slack's short answer and the Retry-After in seconds."""
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, _answer(response.read(200)), None
    except urllib.error.HTTPError as error:
        with error:
            return error.code, _answer(error.read(200)), _seconds(error.headers.get("Retry-After"))


def _check_url(url: str, variable: str) -> None:
    try:
        parts = urlsplit(url)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        ok = False
    if not ok:
        raise SlackError(f"${variable} does not hold an http(s) URL; set it to the Slack incoming-webhook URL.")


def _network_problem(error: BaseException, per_try: float) -> str:
    reason = getattr(error, "reason", error)  # URLError wraps the socket error
    if isinstance(reason, TimeoutError) or isinstance(error, TimeoutError):
        return f"Slack did not answer within {per_try:g} s"
    if isinstance(reason, OSError) and reason.strerror:
        return f"could not reach Slack ({reason.strerror})"
    return f"could not reach Slack ({type(reason).__name__})"


def _answer(raw: bytes) -> str:
    """Slack's answer is a short word ("ok", "no_service"); anything else is cut to one line."""
    text = " ".join(raw.decode("utf-8", "replace").split())
    return text[:80]


def _seconds(value: str | None) -> float | None:
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and seconds >= 0 else None


def _redacted(text: str, url: str) -> str:
    """`text` without the URL or its path (where the secret is), should an answer echo them."""
    path = urlsplit(url).path
    for secret in (url, path if len(path) > 1 else ""):
        if secret:
            text = text.replace(secret, "<webhook URL>")
    return text
