"""The domain's hosted zone in another account: a writer role there, and what a region writes through it."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import CustomResource, Duration, PhysicalName, Stack
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import custom_resources as cr

from constructs import Construct
from constructs.engines.lifecycle_hook import release_function
from constructs.nag_acknowledgments import acknowledge_all, arn_of
from constructs.role_arns import RoleArns
from constructs.settings.retention import log_group

CHANGE_RECORDS = "route53:ChangeResourceRecordSets"
# The functions CDK's provider framework adds (framework-onEvent, ...).
FRAMEWORK = ("onEvent", "isComplete", "onTimeout")
# ACM validates within minutes once the records resolve. CloudFormation waits at most an hour for a custom
# resource (ServiceTimeout: 1 to 3600 seconds), so the provider gives up first, with the certificate's status
# (and its ARN, for the rollback to delete it): 50 minutes of 30-second looks leave each look's own time.
CERTIFICATE_TIMEOUT = Duration.minutes(50)


def normalized(name: str) -> str:
    """A record name as Route 53's ``NormalizedRecordNames`` condition key compares it: lower case, no final dot."""
    return name.lower().rstrip(".")


class ZoneWriterRole(iam.Role):
    """In the hosted zone's account: what one regional stack of another account may write in the zone.

    CloudFormation writes records (and validates certificates) only in a zone of the stack's own account, so
    a region in another account writes through this role. It may ``UPSERT`` or ``DELETE`` A records named
    ``record_names`` and ``UPSERT`` the ``_*`` validation CNAMEs under ``validated_names``, in the one zone
    (Route 53's ``ChangeResourceRecordSets`` condition keys, "Using IAM policy conditions for fine-grained
    access control"); nothing else. Those keys cannot limit a record's set identifier or routing, so a region
    may change any record of its own names, the shared name's included. It trusts the region's account, with
    the ARNs of the roles given to :meth:`trust` in a condition: they are created after this role.

    Args:
        zone_id: the hosted zone's ID.
        writer_account: the account of the regional stack.
        record_names: the A records it writes.
        validated_names: the names its certificate covers (none with a certificate of its own).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        zone_id: str,
        writer_account: str,
        record_names: Sequence[str],
        validated_names: Sequence[str] = (),
    ) -> None:
        self._writers = RoleArns(f"{scope.node.path}/{construct_id}")
        super().__init__(
            scope,
            construct_id,
            role_name=PhysicalName.GENERATE_IF_NEEDED,
            assumed_by=self._writers.principal(writer_account),
            description=f"Writes {', '.join(record_names)} in hosted zone {zone_id} for account {writer_account}",
        )
        zone = f"arn:aws:route53:::hostedzone/{zone_id}"
        self.add_to_policy(
            _changes(
                zone, types=["A"], actions=["UPSERT", "DELETE"], names=[normalized(n) for n in record_names]
            )
        )
        if validated_names:
            # Validation records are never deleted: ACM renews certificates with the same ones.
            self.add_to_policy(
                _changes(
                    zone,
                    types=["CNAME"],
                    actions=["UPSERT"],
                    names_like=[f"_*.{normalized(n)}" for n in validated_names],
                )
            )

    def trust(self, *roles: iam.IRole) -> None:
        """Let ``roles`` (of the writer account, with generated names) assume this role."""
        self._writers.add(*roles)


def _changes(
    zone: str,
    *,
    types: list[str],
    actions: list[str],
    names: list[str] | None = None,
    names_like: list[str] | None = None,
) -> iam.PolicyStatement:
    """ChangeResourceRecordSets in ``zone``, every change of one of ``types`` by one of ``actions``, of a record
    named one of ``names`` (or like one of ``names_like``)."""
    equals = {
        "route53:ChangeResourceRecordSetsRecordTypes": types,
        "route53:ChangeResourceRecordSetsActions": actions,
    }
    conditions: dict[str, dict[str, list[str]]] = {"ForAllValues:StringEquals": equals}
    if names is not None:
        equals["route53:ChangeResourceRecordSetsNormalizedRecordNames"] = names
    if names_like is not None:
        conditions["ForAllValues:StringLike"] = {
            "route53:ChangeResourceRecordSetsNormalizedRecordNames": names_like
        }
    return iam.PolicyStatement(actions=[CHANGE_RECORDS], resources=[zone], conditions=conditions)


class RemoteZone(Construct):
    """The hosted zone seen from a regional stack of another account: a certificate and records written in it.

    One role (generated name) runs the certificate's functions and the record resources, and assumes the
    zone account's :class:`ZoneWriterRole` for the writes.

    Args:
        zone_id: the hosted zone's ID.
        writer: the writer role of this stack in the zone's account.
    """

    def __init__(self, scope: Construct, construct_id: str, *, zone_id: str, writer: ZoneWriterRole) -> None:
        super().__init__(scope, construct_id)
        self.zone_id = zone_id
        self.writer = writer
        self.role = iam.Role(
            self,
            "Role",
            role_name=PhysicalName.GENERATE_IF_NEEDED,
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Requests the certificate and writes this region's records in the other account's zone",
        )
        writer.trust(self.role)
        self.role.add_to_policy(iam.PolicyStatement(actions=["sts:AssumeRole"], resources=[writer.role_arn]))
        self._logs = log_group(self, "Logs")
        self._logs.grant_write(self.role)

    def certificate(self, names: Sequence[str]) -> str:
        """The ARN of a new ACM certificate for ``names``, validated by DNS in the zone (release/hooks/dns_certificate.py)."""
        stack = Stack.of(self)
        self.role.add_to_policy(iam.PolicyStatement(actions=["acm:RequestCertificate"], resources=["*"]))
        certificate_arns = stack.format_arn(service="acm", resource="certificate", resource_name="*")
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["acm:DescribeCertificate", "acm:DeleteCertificate"], resources=[certificate_arns]
            )
        )
        handlers = {
            name: release_function(
                Construct(self, name),
                description=f"DNS-validated certificate in another account's zone: {name}",
                handler=f"dns_certificate.{name}",
                timeout=Duration.minutes(1),
                role=self.role,
                log_group=self._logs,
            )
            for name in ("on_event", "is_complete")
        }
        provider = cr.Provider(
            self,
            "CertificateProvider",
            on_event_handler=handlers["on_event"],
            is_complete_handler=handlers["is_complete"],
            query_interval=Duration.seconds(30),
            total_timeout=CERTIFICATE_TIMEOUT,
            log_group=self._logs,
            disable_waiter_state_machine_logging=False,
            waiter_state_machine_log_options=cr.LogOptions(destination=self._logs, level=sfn.LogLevel.ALL),
        )
        functions = [*handlers.values(), *(provider.node.find_child(f"framework-{n}") for n in FRAMEWORK)]
        acknowledge_all(
            provider,
            [
                (
                    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                    "AWSLambdaBasicExecutionRole]",
                    "CDK's provider framework functions write their own logs with AWS's basic execution policy.",
                ),
                *(
                    (
                        f"AwsSolutions-IAM5[Resource::{arn_of(function)}:*]",
                        "CDK's provider framework invokes its own functions and their versions only.",
                    )
                    for function in functions
                ),
                (
                    "AwsSolutions-IAM5[Resource::*]",
                    "The waiter's log delivery (logs:CreateLogDelivery and the like) supports no resource-level "
                    "permissions (Step Functions developer guide, logging to CloudWatch Logs).",
                ),
                (
                    "AwsSolutions-SF2",
                    "The provider framework's waiter only polls the certificate function every 30 seconds: its "
                    "history is logged in full (SF1); X-Ray tracing would add nothing a deploy needs.",
                ),
            ],
        )
        acknowledge_all(
            self.role,
            [
                (
                    "AwsSolutions-IAM5[Resource::*]",
                    "acm:RequestCertificate supports no resource-level permissions (Service Authorization Reference).",
                ),
                (
                    f"AwsSolutions-IAM5[Resource::{stack.resolve(certificate_arns)}]",
                    "ACM gives each certificate a generated ID: describe and delete the account's certificates of "
                    "this region; the function only touches the one it requested (its physical ID).",
                ),
            ],
        )
        resource = CustomResource(
            self,
            "Certificate",
            service_token=provider.service_token,
            resource_type="Custom::DnsValidatedCertificate",
            properties={
                "DomainNames": list(names),
                "HostedZoneId": self.zone_id,
                "WriterRoleArn": self.writer.role_arn,
            },
        )
        return resource.ref

    def alias_record(
        self,
        construct_id: str,
        *,
        name: str,
        load_balancer: elbv2.IApplicationLoadBalancer,
        evaluate_target_health: bool = True,
        set_identifier: str | None = None,
        routing: dict[str, object] | None = None,
    ) -> cr.AwsCustomResource:
        """An A record aliasing ``name`` to ``load_balancer``: UPSERT when created or changed, DELETE when removed.

        ``routing``: the record's routing members (``Region``, ``GeoLocation``, ``HealthCheckId``), with
        ``set_identifier``. One resource per record (its physical ID is the record's identity), so a record
        that is no longer wanted is deleted with the values it was written with.
        """
        record = {
            "Name": name,
            "Type": "A",
            "AliasTarget": {
                "HostedZoneId": load_balancer.load_balancer_canonical_hosted_zone_id,
                "DNSName": f"dualstack.{load_balancer.load_balancer_dns_name}",
                "EvaluateTargetHealth": evaluate_target_health,
            },
            **({"SetIdentifier": set_identifier} if set_identifier else {}),
            **(routing or {}),
        }

        def change(action: str, **options: object) -> cr.AwsSdkCall:
            return cr.AwsSdkCall(
                service="Route53",
                action="changeResourceRecordSets",
                parameters={
                    "HostedZoneId": self.zone_id,
                    "ChangeBatch": {"Changes": [{"Action": action, "ResourceRecordSet": record}]},
                },
                physical_resource_id=cr.PhysicalResourceId.of(f"{normalized(name)} A {set_identifier or ''}"),
                assumed_role_arn=self.writer.role_arn,
                **options,
            )

        return cr.AwsCustomResource(
            self,
            construct_id,
            on_create=change("UPSERT"),
            on_update=change("UPSERT"),
            # Already gone (deleted by hand): nothing to delete.
            on_delete=change("DELETE", ignore_error_codes_matching="InvalidChangeBatch"),
            role=self.role,
            log_group=self._logs,
            install_latest_aws_sdk=False,
            timeout=Duration.minutes(2),
        )
