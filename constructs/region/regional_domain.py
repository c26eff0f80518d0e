"""One region's share of the service's domain: its certificate, its name and its part of the routing."""

from __future__ import annotations

import jsii
from aws_cdk import Duration
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as targets

from constructs import Construct
from constructs.region.remote_zone import RemoteZone, ZoneWriterRole
from constructs.settings.domain_settings import DomainSettings
from constructs.settings.locations import (
    CONTINENTS,
    COUNTRY_PREFIX,
    EVERYWHERE_ELSE,
    country_code,
    location_kind,
)
from constructs.settings.service_settings import HTTPS_PORT

# Route 53 health checks: every 30 seconds from each checker, unhealthy after 3 failures in a row.
HEALTH_CHECK_INTERVAL_SECONDS = 30
HEALTH_CHECK_FAILURES = 3


def _geolocation(location: str) -> route53.GeoLocation:
    if location == EVERYWHERE_ELSE:
        return route53.GeoLocation.default()
    if location_kind(location) == "continent":
        return route53.GeoLocation.continent(
            route53.Continent[CONTINENTS[location].upper().replace(" ", "_")]
        )
    return route53.GeoLocation.country(country_code(location))


@jsii.implements(targets.IAliasRecordTargetProps)
class _WithoutTargetHealth:
    """Alias properties (an interface in jsii) that leave the load balancer's own health out.

    Route 53 counts a target group without healthy targets as unhealthy, which the idle group of a
    blue/green pair always is: latency records let their health check alone decide, and residency records
    never fail over.
    """

    @property
    def evaluate_target_health(self) -> bool:
        return False


def _shared_alias(load_balancer: elbv2.IApplicationLoadBalancer) -> route53.RecordTarget:
    """An alias to ``load_balancer`` for the shared name, without evaluating target health."""
    return route53.RecordTarget.from_alias(targets.LoadBalancerTarget(load_balancer, _WithoutTargetHealth()))


class RegionalDomain(Construct):
    """The names one region answers on, in the domain's Route 53 hosted zone (named, never looked up).

    A production region has ``<region>.<domain>`` and its share of ``<domain>``:
    with ``latency`` routing a latency record guarded by a Route 53 HTTPS
    health check on ``<region>.<domain>`` (the service's health path), so an
    unhealthy region drops out; with ``geolocation`` one record per
    residency location it serves, without fail-over, so a user is only ever
    served by the region of their location; with ``none`` no share (the
    health check stays). A staging copy has
    ``<region>.staging.<domain>`` only. The certificate (ACM, DNS-validated in
    the zone) covers exactly those names, unless ``certificate_arn`` is given.

    Build it before the load balancer (its listener needs :attr:`certificate_arn`),
    then :meth:`route_to` the load balancer.

    Args:
        settings: the domain, its zone and routing.
        region: the region this copy runs in.
        staging: a staging copy. Default ``False``.
        certificate_arn: a certificate of the region to use instead of a new
            one; it must cover this copy's names. Default none.
        zone_writer: when the hosted zone is in another account, this stack's
            writer role there: the certificate and records are then written
            through it (:class:`~constructs.region.remote_zone.RemoteZone`)
            instead of by CloudFormation. Default none: the zone is in this
            stack's account.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: DomainSettings,
        region: str,
        staging: bool = False,
        certificate_arn: str | None = None,
        zone_writer: ZoneWriterRole | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.settings = settings
        self.region = region
        self.staging = staging
        self.zone = route53.HostedZone.from_hosted_zone_attributes(
            self, "Zone", hosted_zone_id=settings.hosted_zone_id, zone_name=settings.hosted_zone_name
        )
        self.regional_name = settings.regional_name(region, staging=staging)
        self.names = settings.names_of(region, staging=staging)
        self.certificate: acm.Certificate | None = None
        self.remote: RemoteZone | None = None
        if zone_writer is not None:
            self.remote = RemoteZone(self, "RemoteZone", zone_id=settings.hosted_zone_id, writer=zone_writer)
        if certificate_arn:
            self.certificate_arn = certificate_arn
        elif self.remote:
            self.certificate_arn = self.remote.certificate(self.names)
        else:
            self.certificate = acm.Certificate(
                self,
                "Certificate",
                domain_name=self.names[0],
                subject_alternative_names=list(self.names[1:]) or None,
                validation=acm.CertificateValidation.from_dns(self.zone),
            )
            self.certificate_arn = self.certificate.certificate_arn
        self.health_check: route53.HealthCheck | None = None

    def route_to(self, load_balancer: elbv2.IApplicationLoadBalancer, *, health_check_path: str) -> None:
        """Point this copy's names at ``load_balancer``; production regions get their share of the domain."""
        if self.remote:
            self.remote.alias_record("RegionalName", name=self.regional_name, load_balancer=load_balancer)
        else:
            route53.ARecord(
                self,
                "RegionalName",
                zone=self.zone,
                record_name=self.regional_name,
                target=route53.RecordTarget.from_alias(targets.LoadBalancerTarget(load_balancer)),
            )
        if self.staging:
            return
        self.health_check = route53.HealthCheck(
            self,
            "HealthCheck",
            type=route53.HealthCheckType.HTTPS,
            fqdn=self.regional_name,
            port=HTTPS_PORT,
            resource_path=health_check_path,
            enable_sni=True,
            request_interval=Duration.seconds(HEALTH_CHECK_INTERVAL_SECONDS),
            failure_threshold=HEALTH_CHECK_FAILURES,
        )
        if self.settings.routing == "none":
            return
        if self.remote:
            self._remote_shares(load_balancer)
            return
        if self.settings.routing == "latency":
            route53.ARecord(
                self,
                "Latency",
                zone=self.zone,
                record_name=self.settings.name,
                region=self.region,
                set_identifier=self.region,
                health_check=self.health_check,
                target=_shared_alias(load_balancer),
            )
            return
        for location in self.settings.locations_of(self.region):
            label = (
                "Elsewhere" if location == EVERYWHERE_ELSE else location.replace(COUNTRY_PREFIX, "Country")
            )
            route53.ARecord(
                self,
                f"Residency{label}",
                zone=self.zone,
                record_name=self.settings.name,
                geo_location=_geolocation(location),
                set_identifier=f"{self.region}-{label.lower()}",
                target=_shared_alias(load_balancer),
            )

    def _remote_shares(self, load_balancer: elbv2.IApplicationLoadBalancer) -> None:
        """The same records as the zone's own (latency, or one per residency location), through the writer."""
        name = self.settings.name
        if self.settings.routing == "latency":
            self.remote.alias_record(
                "Latency",
                name=name,
                load_balancer=load_balancer,
                evaluate_target_health=False,
                set_identifier=self.region,
                routing={"Region": self.region, "HealthCheckId": self.health_check.health_check_id},
            )
            return
        for location in self.settings.locations_of(self.region):
            label = (
                "Elsewhere" if location == EVERYWHERE_ELSE else location.replace(COUNTRY_PREFIX, "Country")
            )
            self.remote.alias_record(
                f"Residency{label}",
                name=name,
                load_balancer=load_balancer,
                evaluate_target_health=False,
                set_identifier=f"{self.region}-{label.lower()}",
                routing={"GeoLocation": _geolocation_member(location)},
            )


def _geolocation_member(location: str) -> dict[str, str]:
    """The ``GeoLocation`` member of a record for a residency location (Route 53 API reference, GeoLocation)."""
    if location == EVERYWHERE_ELSE:
        return {"CountryCode": "*"}
    if location_kind(location) == "continent":
        return {"ContinentCode": location}
    return {"CountryCode": country_code(location)}
