"""Reading a reset time out of an agent CLI's words ("resets 3pm", "Access resets at 11:03 AM
UTC"): what `orchestra.limits` waits for. Standard library only: hook translators import it, and
they run for every hook event.
"""

from __future__ import annotations

import contextlib
import datetime
import re

_CLOCK = r"(\d{1,2})(?::(\d{2}))?\s*(am|pm)?"
# Compiled on first use (re caches it): every command imports this module, few read a reset time.
_RESETS = (
    r"resets\s+(?:(?:at|on)\s+)?(?:([A-Z][a-z]{2})[a-z]*\.?\s+(\d{1,2}),?\s+(?:at\s+)?)?"
    + _CLOCK
    + r"(?:\s*\(([A-Za-z_]+(?:/[A-Za-z_+-]+)*)\)|\s+(UTC|GMT)\b)?"
)
_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]


def reset_time(message: str, now: datetime.datetime | None = None) -> str | None:
    """When a usage limit resets, as an agent CLI words it, in ISO 8601; None when it does not
    say. "usage limit reached|1733421600" (a Unix time), "resets 3pm", "resets 3:30pm
    (Europe/Paris)", "resets Dec 4, 3pm", "Access resets at 11:03 AM UTC": a clock time is the
    next one to come, in the zone named or else this machine's."""
    epoch = re.search(r"\|(\d{10})\b", message)
    if epoch:
        return datetime.datetime.fromtimestamp(int(epoch.group(1)), datetime.timezone.utc).isoformat()
    found = re.search(_RESETS, message, re.IGNORECASE)
    if found is None:
        return None
    month, day, hour_text, minute_text, half, named, bare = found.groups()
    zone_name = named or bare
    hour, minute = int(hour_text), int(minute_text or 0)
    if half:
        hour = hour % 12 + (12 if half.lower() == "pm" else 0)
    if hour > 23 or minute > 59 or (not half and not minute_text and not month):
        return None  # "resets 3" says no time
    zone: datetime.tzinfo | None = None
    if zone_name:
        with contextlib.suppress(Exception):
            from zoneinfo import ZoneInfo

            zone = ZoneInfo(zone_name)
    now = (now or datetime.datetime.now(datetime.timezone.utc)).astimezone(zone)
    try:
        if month:
            if month.lower() not in _MONTHS:
                return None
            at = now.replace(month=_MONTHS.index(month.lower()) + 1, day=int(day), hour=hour, minute=minute)
            at = at.replace(second=0, microsecond=0)
            if at < now - datetime.timedelta(days=1):
                at = at.replace(year=at.year + 1)
        else:
            at = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
            if at <= now:
                at += datetime.timedelta(days=1)
    except ValueError:
        return None
    return at.astimezone(datetime.timezone.utc).isoformat()
