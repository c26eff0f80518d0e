"""When a production wave may start: CodePipeline's DeploymentWindow rule, its cron expression and time zone.

As the rule documents them (https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference-DeploymentWindow.html):

- ``Cron``: six fields and an optional seventh, separated by spaces: seconds (``*`` only), minutes (0-59),
  hours (0-23), day-of-month (1-31; also ``?``, ``L``, ``L-n``, ``nW``, ``LW``), month (1-12 or JAN-DEC),
  day-of-week (1-7 or SUN-SAT, 1 being Sunday; also ``?``, ``L``, ``nL``, ``n#k``) and year (1970-2199);
  ``*``, ``,``, ``-`` and ``/`` as in Quartz. Names are not case sensitive.
- ``TimeZone``: Region/City (such as ``Asia/Singapore``), ``UTC`` with an optional ``+HH:MM``/``-HH:MM``
  offset (``UTC`` when unset), or an abbreviation.

A window is the minutes its expression matches, read in its time zone. This module refuses what it cannot
read exactly (an abbreviation: several zones share some, as the page says of CST; a range written high to
low; both day fields set, or neither ``?``), so that ``make plan``, ``make status`` and ``make release`` can
say when a window opens (:meth:`DeploymentWindow.opens_at`), and what is easily meant otherwise: a number
for a month (an older copy of the page counts them from 0) or a day of the week (counted from Sunday, so
Unix cron's 1-5 would be Sunday to Thursday), and one minute for the minutes (open a minute each hour).
"""

from __future__ import annotations

import calendar
import re
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from functools import cache, cached_property

from constructs.settings.config_checks import ConfigError, fail

SETTING = "deployment_windows"
RULE_PROVIDER = "DeploymentWindow"
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
# The rule's Region/City pattern as its page words it ("Region/City or Region/City_City"), checked against the
# IANA database too; a zone of another form (America/Port_of_Spain, America/Argentina/Salta) takes UTC+HH:MM.
_CITY_ZONE = re.compile(r"^[A-Za-z]+/[A-Za-z]+(?:_[A-Za-z]+)?$")
_UTC_ZONE = re.compile(r"^UTC(?:(?P<sign>[+-])(?P<hours>\d\d):(?P<minutes>[0-5]\d))?$")
_ITEM = re.compile(r"^(?:(?P<all>\*)|(?P<low>\w+)(?:-(?P<high>\w+))?)(?:/(?P<step>\d+))?$")
# How far ahead opens_at looks: a window that opens later than this (its year field) reads as never.
SEARCH_DAYS = 5 * 366
ZONES_ALLOWED = (
    "expected a time zone as Region/City or Region/City_City, an IANA name such as Asia/Singapore (the forms "
    "the rule documents), or UTC, optionally with an offset of two-digit hours and minutes such as UTC+08:00 "
    "(for a zone of another form too); abbreviations such as EST are refused: several zones share some"
)


def _whole_day(_: date) -> bool:
    return True


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    # Why a number is refused where a name says the same without doubt ("" takes numbers).
    names_only: str = ""

    def value(self, text: str, setting: str, cron: str) -> int:
        upper = text.upper()
        if upper in self.names:
            return self.names.index(upper) + self.low
        if text.isdigit() and self.names_only:
            raise fail(setting, cron, f"{self.names_only}, not {text}")
        if not text.isdigit() or not self.low <= int(text) <= self.high:
            named = f" or {self.names[0]}-{self.names[-1]}" if self.names else ""
            raise fail(
                setting, cron, f"the {self.name} field takes {self.low}-{self.high}{named}, not {text}"
            )
        return int(text)

    def values(self, text: str, setting: str, cron: str) -> frozenset[int]:
        """The values a list of ``*``, ``a``, ``a-b`` items, each with an optional ``/step``, names."""
        found: set[int] = set()
        for item in text.split(","):
            match = _ITEM.fullmatch(item)
            if match is None:
                raise fail(
                    setting,
                    cron,
                    f"the {self.name} field takes *, a value, a range a-b, a list and /step, not {item}",
                )
            if match["all"]:
                low, high = self.low, self.high
            else:
                low = self.value(match["low"], setting, cron)
                high = self.value(match["high"], setting, cron) if match["high"] else low
                if match["step"] and not match["high"]:
                    high = self.high
            if low > high:
                raise fail(
                    setting,
                    cron,
                    f"the {self.name} field's range {item} runs high to low; write it as two ranges",
                )
            step = int(match["step"]) if match["step"] else 1
            if step < 1:
                raise fail(setting, cron, f"the {self.name} field's step in {item} must be at least 1")
            found.update(range(low, high + 1, step))
        return frozenset(found)


SECONDS = _Field("seconds", 0, 59)
MINUTES = _Field("minutes", 0, 59)
HOURS = _Field("hours", 0, 23)
DAY_OF_MONTH = _Field("day-of-month", 1, 31)
MONTH = _Field(
    "month",
    1,
    12,
    _MONTHS,
    "write months as names (JAN-DEC): the rule's page numbers them 1-12, an older copy of it 0-11",
)
DAY_OF_WEEK = _Field(
    "day-of-week",
    1,
    7,
    _DAYS,
    "write days of the week as names (MON-FRI): the rule numbers them from Sunday, 1, so 1-5 is Sunday to "
    "Thursday",
)
# In nL and n#k, as the rule's page writes them ("6L", "6#3": Friday).
NUMBERED_DAY_OF_WEEK = _Field("day-of-week", 1, 7, _DAYS)
YEAR = _Field("year", 1970, 2199)


def _weekday(day: date) -> int:
    """The rule's day of the week: 1 is Sunday, 7 Saturday."""
    return (day.weekday() + 1) % 7 + 1


def _last_day(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def _nearest_weekday(day: date, wanted: int) -> int:
    """``nW``: the weekday (Monday-Friday) nearest day ``wanted`` of ``day``'s month, not leaving the month."""
    last = _last_day(day)
    wanted = min(wanted, last)
    weekday = date(day.year, day.month, wanted).weekday()
    if weekday == 5:  # Saturday: the Friday before, or the Monday after the 1st
        return wanted - 1 if wanted > 1 else wanted + 2
    if weekday == 6:  # Sunday: the Monday after, or the Friday before the last day
        return wanted + 1 if wanted < last else wanted - 2
    return wanted


def _day_of_month(text: str, setting: str, cron: str) -> Callable[[date], bool]:
    upper = text.upper()
    if upper == "?":
        return _whole_day
    if upper == "L":
        return lambda day: day.day == _last_day(day)
    if upper == "LW":
        return lambda day: day.day == _nearest_weekday(day, _last_day(day))
    if match := re.fullmatch(r"L-(\d{1,2})", upper):
        offset = int(match[1])
        if offset > 30:
            raise fail(setting, cron, f"the day-of-month field's L-n takes n from 0 to 30, not {offset}")
        return lambda day: day.day == _last_day(day) - offset
    if match := re.fullmatch(r"(\d{1,2})W", upper):
        wanted = DAY_OF_MONTH.value(match[1], setting, cron)
        return lambda day: day.day == _nearest_weekday(day, wanted)
    days = DAY_OF_MONTH.values(text, setting, cron)
    return lambda day: day.day in days


def _day_of_week(text: str, setting: str, cron: str) -> Callable[[date], bool]:
    upper = text.upper()
    if upper == "?":
        return _whole_day
    if upper == "L":
        return lambda day: _weekday(day) == 7
    if match := re.fullmatch(r"(\w+)L", upper):
        wanted = NUMBERED_DAY_OF_WEEK.value(match[1], setting, cron)
        return lambda day: _weekday(day) == wanted and day.day + 7 > _last_day(day)
    if match := re.fullmatch(r"(\w+)#(\d)", upper):
        wanted = NUMBERED_DAY_OF_WEEK.value(match[1], setting, cron)
        nth = int(match[2])
        if not 1 <= nth <= 5:
            raise fail(setting, cron, f"the day-of-week field's #n takes n from 1 to 5, not {nth}")
        return lambda day: _weekday(day) == wanted and (day.day - 1) // 7 + 1 == nth
    days = DAY_OF_WEEK.values(text, setting, cron)
    return lambda day: _weekday(day) in days


@cache
def _iana_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())  # read from disk on every call otherwise


def zone_of(name: object, setting: str) -> tzinfo:
    """The time zone the rule's ``TimeZone`` names, refused in one line unless Region/City or UTC[±HH:MM]."""
    if not isinstance(name, str):
        raise fail(setting, name, ZONES_ALLOWED)
    if match := _UTC_ZONE.fullmatch(name):
        if not match["sign"]:
            return UTC
        offset = timedelta(hours=int(match["hours"]), minutes=int(match["minutes"]))
        if offset > timedelta(hours=14):
            raise fail(setting, name, "a UTC offset is at most 14 hours")
        return timezone(offset if match["sign"] == "+" else -offset, name)
    if _CITY_ZONE.fullmatch(name) and name in _iana_zones():
        return zoneinfo.ZoneInfo(name)
    raise fail(setting, name, ZONES_ALLOWED)


@dataclass(frozen=True, kw_only=True)
class DeploymentWindow:
    """The hours in which a production wave may start: its stage's entry condition, CodePipeline's
    ``DeploymentWindow`` rule.

    Attributes:
        cron: the rule's cron expression, such as ``* * 9-16 ? * MON-FRI *`` (every minute from 09:00 to
            16:59, Monday to Friday). Required. The seconds field is ``*``; exactly one of day-of-month and
            day-of-week is ``?``; months and days of the week are names; minutes are ``*``, a range or a list,
            not one minute.
        timezone: the zone ``cron`` is read in: Region/City (an IANA name such as ``Asia/Singapore``) or
            ``UTC`` with an optional offset (``UTC+08:00``). Required: hours mean nothing without their zone
            (the rule itself reads UTC when it is unset).
        setting: the setting named when a value is refused. Default ``deployment_windows``.
    """

    cron: str
    timezone: str
    setting: str = field(default=SETTING, compare=False, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.cron, str):  # the rule's fields are separated by white space: one space each
            object.__setattr__(self, "cron", " ".join(self.cron.split()))
        self.zone  # noqa: B018  (checks the zone)
        self._fields  # noqa: B018  (checks the expression)
        if not self._ever_open():
            raise fail(
                f"{self.setting}.cron", self.cron, "it matches no day of any year: the window never opens"
            )

    @cached_property
    def zone(self) -> tzinfo:
        return zone_of(self.timezone, f"{self.setting}.timezone")

    @cached_property
    def _fields(
        self,
    ) -> tuple[frozenset[int], frozenset[int], frozenset[int], frozenset[int], Callable[[date], bool]]:
        """(minutes, hours, months, years, whether a day is one of the window's)."""
        setting = f"{self.setting}.cron"
        if not isinstance(self.cron, str):
            raise fail(setting, self.cron, "expected the DeploymentWindow rule's cron expression as text")
        parts = self.cron.split()
        if len(parts) not in (6, 7):
            raise fail(
                setting,
                self.cron,
                "expected 6 fields and an optional year: seconds minutes hours day-of-month month day-of-week "
                "[year], such as * * 9-16 ? * MON-FRI *",
            )
        seconds, minutes, hours, day_of_month, month, day_of_week, *year = parts
        if seconds != "*":
            raise fail(
                setting, self.cron, f"the seconds field takes only * (the rule's table), not {seconds}"
            )
        if (day_of_month == "?") == (day_of_week == "?"):
            raise fail(
                setting,
                self.cron,
                "exactly one of day-of-month and day-of-week must be ? (the other picks the days)",
            )
        if minutes.isdigit():
            raise fail(
                setting,
                self.cron,
                f"the minutes field {minutes} opens the window one minute each hour; write * for whole hours",
            )
        days_of_month = _day_of_month(day_of_month, setting, self.cron)
        days_of_week = _day_of_week(day_of_week, setting, self.cron)
        years = (
            YEAR.values(year[0], setting, self.cron) if year else frozenset(range(YEAR.low, YEAR.high + 1))
        )
        return (
            MINUTES.values(minutes, setting, self.cron),
            HOURS.values(hours, setting, self.cron),
            MONTH.values(month, setting, self.cron),
            years,
            lambda day: days_of_month(day) and days_of_week(day),
        )

    def _day_open(self, day: date, *, any_year: bool = False) -> bool:
        _, _, months, years, days = self._fields
        return (any_year or day.year in years) and day.month in months and days(day)

    def _ever_open(self) -> bool:
        """Whether some day of a 28-year cycle (every weekday on every date, leap years too) is the window's."""
        first = date(2000, 1, 1)
        return any(self._day_open(first + timedelta(days=n), any_year=True) for n in range(28 * 366))

    def is_open(self, moment: datetime) -> bool:
        """Whether the minute of ``moment`` (timezone-aware) is inside the window."""
        local = moment.astimezone(self.zone)
        minutes, hours, *_ = self._fields
        return local.minute in minutes and local.hour in hours and self._day_open(local.date())

    def opens_at(self, moment: datetime) -> datetime | None:
        """The first minute, from ``moment``'s on, inside the window (UTC); None if none within SEARCH_DAYS."""
        since = moment.astimezone(UTC).replace(second=0, microsecond=0)
        minutes, hours, *_ = self._fields
        start = since.astimezone(self.zone).date()
        for offset in range(SEARCH_DAYS):
            day = start + timedelta(days=offset)
            if not self._day_open(day):
                continue
            for hour in sorted(hours):
                for minute in sorted(minutes):
                    for fold in (0, 1):  # a clock set back shows these local minutes twice
                        local = datetime(
                            day.year, day.month, day.day, hour, minute, tzinfo=self.zone, fold=fold
                        )
                        instant = local.astimezone(UTC)
                        skipped = instant.astimezone(self.zone).replace(tzinfo=None) != local.replace(
                            tzinfo=None
                        )
                        if not skipped and instant >= since:
                            return instant
        return None

    def opening(self, moment: datetime) -> str:
        """``open now``, or when it opens: the zone's time, UTC's, and how long from ``moment``."""
        if self.is_open(moment):
            return "open now"
        opens = self.opens_at(moment)
        if opens is None:
            return f"does not open within {SEARCH_DAYS // 366} years"
        local = opens.astimezone(self.zone)
        left = int((opens - moment).total_seconds() // 60)
        days = f"{left // 1440}d " if left >= 1440 else ""
        return (
            f"opens {local:%a %Y-%m-%d %H:%M} {self.timezone} ({opens:%H:%M} UTC), "
            f"in {days}{left % 1440 // 60}h{left % 60:02d}m"
        )

    @property
    def rule_configuration(self) -> dict[str, str]:
        """The DeploymentWindow rule's configuration: ``Cron`` and ``TimeZone``."""
        return {"Cron": self.cron, "TimeZone": self.timezone}

    def __str__(self) -> str:
        return f"{self.cron} ({self.timezone})"


def window_of(configuration: dict) -> DeploymentWindow | None:
    """The window of a DeploymentWindow rule's configuration (a template's or an execution's; the rule reads
    UTC without a TimeZone), or None when it is not one this module can read."""
    try:
        return DeploymentWindow(cron=configuration["Cron"], timezone=configuration.get("TimeZone", "UTC"))
    except (ConfigError, KeyError):
        return None
