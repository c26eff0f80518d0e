"""One region's own database: Aurora PostgreSQL Serverless v2 in isolated subnets, with its own key."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager

from constructs import Construct
from constructs.nag_acknowledgments import acknowledge, acknowledge_all
from constructs.settings.database_settings import APP_USER, DATABASE_NAME, MASTER_USER, DatabaseSettings
from constructs.settings.retention import RETAINED, RETENTION_DAYS, SECURITY_LOG_RETENTION_DAYS

# The newest Aurora PostgreSQL 16 minor version aws-cdk-lib 2.275 names (minor versions are retired
# about a year after release; `make preflight` checks it is offered in every region). 16.3 and
# later pause at 0 ACUs.
ENGINE_VERSION = rds.AuroraPostgresEngineVersion.VER_16_13
# Every connection uses TLS: Aurora PostgreSQL 16 defaults rds.force_ssl to 0 (1 only from version 17), so
# the cluster's own parameter group sets it.
CLUSTER_PARAMETERS = {"rds.force_ssl": "1"}
# The id CDK gives the stack's one log-retention function (aws-cdk-lib's LogRetention singleton).
LOG_RETENTION_ID = "LogRetentionaae0aa3c5b4d4f87b02d85b201efdd8a"


class RegionalDatabase(Construct):
    """An Aurora PostgreSQL Serverless v2 cluster whose data stays in its region.

    - one serverless v2 writer in the VPC's isolated subnets (no route to the
      internet), capacity ``settings.min_acu`` to ``settings.max_acu``;
    - storage, automated backups, snapshots and the master secret encrypted
      with this region's own customer-managed KMS key (rotation on), which
      encrypts nothing else;
    - automated backups for ``settings.backup_days`` in the region, a final
      snapshot when the cluster is removed; deletion protection is turned on
      after the stack's create by its
      :class:`~constructs.region.protection_after_create.ProtectionAfterCreate` (not in
      the template, so that a failed first create can roll back);
    - the master password generated and rotated by RDS in the region's
      Secrets Manager (``manageMasterUserPassword``), used by the database
      setup and the migration only; the service signs in as its own role,
      ``APP_USER``, with IAM database authentication tokens (:meth:`grant_connect`);
    - TLS required for every connection (``rds.force_ssl`` 1 in the cluster's
      parameter group);
    - PostgreSQL logs exported to the region's CloudWatch Logs (kept ``log_retention``);
    - a security group that admits, on the database port only, the security
      groups passed to ``allow_from`` and nothing else (no CIDR rules).

    Args:
        vpc: a network with ``PRIVATE_ISOLATED`` subnets in at least two zones.
        settings: capacity and backups.
        log_retention: how long PostgreSQL's logs are kept. Default a year.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        settings: DatabaseSettings,
        log_retention: logs.RetentionDays = RETENTION_DAYS[SECURITY_LOG_RETENTION_DAYS],
    ) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "Key",
            description="Encrypts this region's database, its backups, snapshots and secret; nothing else",
            enable_key_rotation=True,
            removal_policy=RETAINED,
        )
        self.security_group = ec2.SecurityGroup(
            self, "SecurityGroup", vpc=vpc, description="The database: only the service and its migration"
        )
        self.cluster = rds.DatabaseCluster(
            self,
            "Cluster",
            engine=rds.DatabaseClusterEngine.aurora_postgres(version=ENGINE_VERSION),
            writer=rds.ClusterInstance.serverless_v2("Writer", publicly_accessible=False),
            serverless_v2_min_capacity=settings.min_acu,
            serverless_v2_max_capacity=settings.max_acu,
            vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
            security_groups=[self.security_group],
            default_database_name=DATABASE_NAME,
            parameter_group=rds.ParameterGroup(
                self,
                "Parameters",
                engine=rds.DatabaseClusterEngine.aurora_postgres(version=ENGINE_VERSION),
                description="TLS for every connection",
                parameters=CLUSTER_PARAMETERS,
            ),
            iam_authentication=True,
            manage_master_user_password=True,
            credentials=rds.Credentials.from_username(MASTER_USER, encryption_key=self.key),
            storage_encryption_key=self.key,
            backup=rds.BackupProps(retention=Duration.days(settings.backup_days)),
            copy_tags_to_snapshot=True,
            removal_policy=RemovalPolicy.SNAPSHOT,
            cloudwatch_logs_exports=["postgresql"],
            cloudwatch_logs_retention=log_retention,
        )
        self.secret: secretsmanager.ISecret = self.cluster.secret
        self._acknowledge_findings()

    @property
    def endpoint(self) -> rds.Endpoint:
        return self.cluster.cluster_endpoint

    def allow_from(self, peer: ec2.IConnectable) -> None:
        """Let ``peer`` (a security group holder) reach the database port."""
        self.cluster.connections.allow_default_port_from(
            peer, "PostgreSQL from the service and its migration"
        )

    def grant_connect(self, role: iam.IGrantable) -> None:
        """Let ``role`` sign in as ``APP_USER`` with an IAM authentication token (``rds-db:connect``)."""
        self.cluster.grant_connect(role, APP_USER)

    def grant_credentials(self, role: iam.IGrantable) -> None:
        """Let ``role`` read the master secret (ECS reads it at task start) and decrypt it with the key."""
        self.secret.grant_read(role)
        self.key.grant_decrypt(role)

    def _acknowledge_findings(self) -> None:
        retention = Stack.of(self).node.try_find_child(LOG_RETENTION_ID)
        if retention is not None:
            role = retention.node.find_child("ServiceRole")
            acknowledge_all(
                role,
                [
                    (
                        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                        "AWSLambdaBasicExecutionRole]",
                        "CDK's log-retention function (sets the retention of the exported PostgreSQL log group): "
                        "its own logs only, through the managed policy CDK attaches.",
                    ),
                    (
                        "AwsSolutions-IAM5[Resource::*]",
                        "CDK's log-retention function calls logs:PutRetentionPolicy and logs:DeleteRetentionPolicy "
                        "on '*' (it serves every log group of the stack); it reads no log data.",
                    ),
                ],
            )
        acknowledge(
            self.cluster,
            "AwsSolutions-RDS10",
            "Deletion protection is turned on by the stack's Custom::DeletionProtection resource once every other "
            "resource exists, not in the template: a protected cluster would turn a failed first create into "
            "ROLLBACK_FAILED (tests/test_first_create.py).",
        )
