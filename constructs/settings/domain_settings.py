"""The service's own domain: names, certificates and how a request finds its region."""

from __future__ import annotations

import re
from dataclasses import dataclass

from constructs.settings.config_checks import ConfigError, fail, freeze, require_str
from constructs.settings.locations import CONTINENTS, COUNTRY_PREFIX, EVERYWHERE_ELSE, location_kind

ROUTING_MODES = ("latency", "geolocation", "none")
# ACM puts the first name of a certificate in its subject's common name, which X.509 limits to 64 characters.
MAX_COMMON_NAME = 64
MAX_DOMAIN_NAME = 253
STAGING_LABEL = "staging"

_DOMAIN = re.compile(
    r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$"
)
_ZONE_ID = re.compile(r"^Z[A-Z0-9]{1,31}$")


@dataclass(frozen=True, kw_only=True)
class DomainSettings:
    """The domain every region answers on, in a Route 53 public hosted zone of the same account.

    With ``name`` set, every production region gets an ACM certificate for
    ``name`` and ``<region>.<name>`` (DNS-validated in the zone), an HTTPS
    production listener, the record ``<region>.<name>`` and a record for
    ``name`` by ``routing``; every staging region gets ``<region>.staging.<name>``
    only. The zone is named, never looked up.

    Attributes:
        name: the service's domain name, such as ``shop.example.com``. Default
            ``None``: no domain (each region by its load balancer's DNS name).
        hosted_zone_id: the ID of the public hosted zone ``name`` is in (``Z...``).
        hosted_zone_name: that zone's name, such as ``example.com``; ``name`` is
            the zone's apex or below it.
        routing: how ``name`` picks a region: ``latency`` (default: the region
            nearest the user among the healthy ones, by Route 53 health checks)
            , ``geolocation`` (by ``residency``; no fail-over between regions) or
            ``none`` (no record for ``name``: the regional names only, for your own
            global routing, or as the step between the other two).
        residency: with ``geolocation``, (location, region) pairs: a continent
            code (``EU``, ``AS``, ...) or ISO 3166-1 alpha-2 country code
            (``DE``; ``country:NA`` for the four countries whose codes are also
            continents': AF, AS, NA, SA), and ``*`` for every other location, each mapped to the production region
            that serves it. Default none.
    """

    name: str | None = None
    hosted_zone_id: str | None = None
    hosted_zone_name: str | None = None
    routing: str = "latency"
    residency: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        freeze(self, "residency")
        if self.name is None:
            for setting, value in (
                ("hosted_zone_id", self.hosted_zone_id),
                ("hosted_zone_name", self.hosted_zone_name),
            ):
                if value is not None:
                    raise fail(setting, value, "it applies only with domain_name; set domain_name too")
            if self.residency:
                raise fail("residency", dict(self.residency), "it applies only with domain_name")
            return
        require_str(
            "domain_name",
            self.name,
            _DOMAIN,
            "expected a lowercase DNS name such as shop.example.com (labels of letters, digits and hyphens)",
        )
        if self.hosted_zone_id is None or self.hosted_zone_name is None:
            missing = "hosted_zone_id" if self.hosted_zone_id is None else "hosted_zone_name"
            raise ConfigError(
                f"{missing}: missing; domain_name {self.name} needs the Route 53 public hosted zone it is in "
                "(hosted_zone_id and hosted_zone_name; the app never looks zones up)"
            )
        require_str(
            "hosted_zone_id",
            self.hosted_zone_id,
            _ZONE_ID,
            "expected a Route 53 hosted zone ID such as Z0123456789ABCDEFGHIJ",
        )
        require_str(
            "hosted_zone_name",
            self.hosted_zone_name,
            _DOMAIN,
            "expected a lowercase DNS name such as example.com",
        )
        if self.name != self.hosted_zone_name and not self.name.endswith(f".{self.hosted_zone_name}"):
            raise fail(
                "domain_name",
                self.name,
                f"it is not in hosted_zone_name {self.hosted_zone_name}; use that zone's apex or a name below it",
            )
        if len(self.name) > MAX_COMMON_NAME:
            raise fail(
                "domain_name",
                self.name,
                f"ACM certificates take at most {MAX_COMMON_NAME} characters as their first name",
            )
        if self.routing not in ROUTING_MODES:
            raise fail("routing", self.routing, f"expected one of {', '.join(ROUTING_MODES)}")
        self._check_residency()

    def _check_residency(self) -> None:
        if not isinstance(self.residency, tuple):
            raise fail("residency", self.residency, "expected (location, region) pairs")
        if self.routing != "geolocation":
            if self.residency:
                raise fail("residency", dict(self.residency), "it applies only with routing geolocation")
            return
        for location, _ in self.residency:
            if location != EVERYWHERE_ELSE and location_kind(location) is None:
                raise fail(
                    "residency",
                    location,
                    f"expected a continent code ({', '.join(CONTINENTS)}), an ISO 3166-1 alpha-2 country code "
                    f"such as DE or SG ({COUNTRY_PREFIX}NA for a country whose code is a continent's), or "
                    f"{EVERYWHERE_ELSE} for every other location",
                )
        if EVERYWHERE_ELSE not in dict(self.residency):
            raise fail(
                "residency",
                dict(self.residency),
                f'it needs "{EVERYWHERE_ELSE}": the region that serves every location not listed '
                "(Route 53 answers no one else)",
            )

    @property
    def enabled(self) -> bool:
        return self.name is not None

    def regional_name(self, region: str, *, staging: bool = False) -> str:
        """``<region>.<name>``, or ``<region>.staging.<name>`` for a staging copy."""
        return f"{region}.{STAGING_LABEL}.{self.name}" if staging else f"{region}.{self.name}"

    def names_of(self, region: str, *, staging: bool = False) -> tuple[str, ...]:
        """The names a copy answers on and its certificate covers: ``name`` and its regional name, or a
        staging copy's regional name alone."""
        regional = self.regional_name(region, staging=staging)
        return (regional,) if staging else (self.name, regional)

    def locations_of(self, region: str) -> tuple[str, ...]:
        """The residency locations ``region`` serves (``*`` included), in the configured order."""
        return tuple(location for location, served_by in self.residency if served_by == region)

    def check_regions(self, production: tuple[str, ...], staging: tuple[str, ...]) -> None:
        """Refuse a residency region that is not a production region, or a name longer than ACM allows."""
        for location, region in self.residency:
            if region not in production:
                raise fail(
                    "residency",
                    {location: region},
                    f"it is not a production region ({', '.join(production)})",
                )
        names = [self.regional_name(r) for r in production] + [
            self.regional_name(r, staging=True) for r in staging
        ]
        for name in names:
            if len(name) > MAX_DOMAIN_NAME:
                raise fail(
                    "domain_name", self.name, f"{name} would be longer than {MAX_DOMAIN_NAME} characters"
                )
        for region in staging:
            name = self.regional_name(region, staging=True)
            if len(name) > MAX_COMMON_NAME:
                raise fail(
                    "domain_name",
                    self.name,
                    f"the staging name {name} would be the certificate's first name, at most {MAX_COMMON_NAME} "
                    "characters",
                )
