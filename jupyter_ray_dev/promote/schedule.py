"""A RayCronJob's schedule: five-field cron and an IANA time zone, checked before any work,
and the next run times a reviewer sees.

cronsim parses and iterates (it follows cron on DST changes: a time skipped by the spring
change runs at the first minute after it, a time repeated in autumn runs once), zoneinfo
knows the zones; nothing here parses cron by hand.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from ..errors import BadRequest

NEXT_RUNS = 5
_FIELDS = ("minute", "hour", "day of month", "month", "day of week")
_EXAMPLE = "e.g. `0 2 * * 1-5` (02:00 Monday to Friday)"


@dataclass(frozen=True)
class Schedule:
    cron: str
    time_zone: str | None = None  # None: the KubeRay operator's zone (UTC in its image)
    suspend: bool = False

    def zone(self) -> datetime.tzinfo:
        return _zone(self.time_zone) if self.time_zone else datetime.timezone.utc

    def next_runs(self, start: datetime.datetime | None = None,
                  count: int = NEXT_RUNS) -> list[datetime.datetime]:
        """The next ``count`` run times after ``start`` (default: now), in the zone."""
        from cronsim import CronSim

        zone = self.zone()
        now = (start or datetime.datetime.now(datetime.timezone.utc)).astimezone(zone)
        runs = CronSim(self.cron, now.replace(second=0, microsecond=0))
        return [next(runs) for _ in range(count)]

    def to_dict(self, start: datetime.datetime | None = None) -> dict[str, Any]:
        return {"schedule": self.cron, "time_zone": self.time_zone, "suspend": self.suspend,
                "zone_shown": self.time_zone or "UTC",
                "next_runs": [t.isoformat() for t in self.next_runs(start)]}


def _zone(name: str) -> datetime.tzinfo:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise BadRequest(
            f"`time_zone` {name!r} is not an IANA time zone: use a name such as "
            "Europe/Berlin, America/New_York or UTC (leave it empty for the operator's "
            "zone).", field="time_zone") from err


def check_zone(name: str) -> str:
    """The IANA zone name, or a 400 naming ``time_zone``."""
    _zone(name)
    return name


def check_cron(cron: Any) -> str:
    """The expression, or a 400 naming ``schedule`` and what is wrong with it."""
    from cronsim import CronSim, CronSimError

    if not isinstance(cron, str) or not cron.strip():
        raise BadRequest(f"`schedule` is required for a RayCronJob: five cron fields, "
                         f"{_EXAMPLE}.", field="schedule")
    fields = cron.split()
    if len(fields) != len(_FIELDS):
        raise BadRequest(
            f"`schedule` {cron!r} has {len(fields)} field(s): a RayCronJob takes five "
            f"({', '.join(_FIELDS)}), {_EXAMPLE}; no seconds field, no @-macros.",
            field="schedule")
    try:
        CronSim(" ".join(fields), datetime.datetime(2000, 1, 1))
    except CronSimError as err:
        # cronsim says which field ("Bad minute"): keep its words, add the ranges
        raise BadRequest(
            f"`schedule` {cron!r}: {err}. Ranges: minute 0-59, hour 0-23, day of month 1-31, "
            f"month 1-12, day of week 0-7; {_EXAMPLE}.", field="schedule") from err
    return " ".join(fields)


def check_schedule(cron: Any, time_zone: Any, suspend: Any) -> Schedule:
    """A valid schedule from a request's fields; a 400 naming the field otherwise."""
    cron = check_cron(cron)
    if time_zone is not None and not isinstance(time_zone, str):
        raise BadRequest("`time_zone` must be a string, an IANA name such as Europe/Berlin.",
                         field="time_zone")
    if time_zone:
        _zone(time_zone)
    if suspend is not None and not isinstance(suspend, bool):
        raise BadRequest("`suspend` must be true or false.", field="suspend")
    return Schedule(cron=cron, time_zone=time_zone or None, suspend=bool(suspend))
