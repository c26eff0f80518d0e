"""Each region's own database (opt-in) and the schema migration every release runs there."""

from __future__ import annotations

from dataclasses import dataclass

from constructs.settings.config_checks import fail, freeze, require_int

DATABASE_ENGINES = ("none", "aurora-postgresql")
# Aurora Serverless v2 capacity: half-ACU steps; 0 pauses an idle cluster (Aurora PostgreSQL 13.15+, 14.12+,
# 15.7+, 16.3+: https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-serverless-v2-auto-pause.html).
MIN_ACU, MAX_ACU = 0, 256
# Automated backups: RDS keeps 1 to 35 days.
MAX_BACKUP_DAYS = 35
# The migration hook waits for the task inside one Lambda invocation (at most 15 minutes), with a
# minute left to stop the task and report to CodeDeploy.
MAX_MIGRATION_MINUTES = 14
# The database the cluster creates and the service uses.
DATABASE_NAME = "app"
# The cluster's master user (its password made and rotated by RDS): the database setup and the migration
# sign in as it, never the service.
MASTER_USER = "app_admin"
# The service's own database role: data access only, signing in with IAM database authentication tokens.
APP_USER = "app_user"
# What the service's container receives, all plain settings: where the database is, who it signs in as,
# and how (DB_AUTH=iam: a token from its task role, for DB_REGION).
DATABASE_SETTINGS = ("DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_AUTH", "DB_REGION")
# What the migration alone receives in their place: the master user's name and password, from its secret.
DATABASE_SECRETS = ("DB_USER", "DB_PASSWORD")


def _capacity(setting: str, value: object, low: float) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not low <= value <= MAX_ACU
        or (value * 2) % 1
    ):
        raise fail(setting, value, f"expected {low:g} to {MAX_ACU} ACUs in steps of 0.5")


@dataclass(frozen=True, kw_only=True)
class DatabaseSettings:
    """The data tier of every region (production and staging): one Aurora PostgreSQL Serverless v2 cluster each.

    Attributes:
        engine: ``none`` (default: no database) or ``aurora-postgresql``.
        backup_days: days of automated backups, kept in the region; 1-35. Default ``7``.
        min_acu: minimum capacity in ACUs, 0-256 in steps of 0.5; ``0`` lets
            an idle cluster pause (it then costs storage only, and the first
            connection after a pause waits for it to resume). Default ``0``.
        max_acu: maximum capacity in ACUs, 1-256 in steps of 0.5, at least ``min_acu``. Default ``4``.
        migration_command: the command (a list of strings, as in a task
            definition) that every release runs once per region, in the
            released image and task definition, before that region's
            production traffic shifts. Default ``None``: no migration.
        migration_timeout_minutes: how long a migration may run before it is
            stopped and the region's deployment fails; 1-14. Default ``10``.
    """

    engine: str = "none"
    backup_days: int = 7
    min_acu: float = 0
    max_acu: float = 4
    migration_command: tuple[str, ...] | None = None
    migration_timeout_minutes: int = 10

    def __post_init__(self) -> None:
        freeze(self, "migration_command")
        if self.engine not in DATABASE_ENGINES:
            raise fail("database", self.engine, f"expected one of {', '.join(DATABASE_ENGINES)}")
        require_int("database_backup_days", self.backup_days, 1, MAX_BACKUP_DAYS)
        _capacity("database_min_acu", self.min_acu, MIN_ACU)
        _capacity("database_max_acu", self.max_acu, 1)
        if self.max_acu < self.min_acu:
            raise fail(
                "database_max_acu", self.max_acu, f"expected at least database_min_acu ({self.min_acu:g})"
            )
        if self.migration_command is not None:
            command = self.migration_command
            if (
                not isinstance(command, tuple)
                or not command
                or not all(isinstance(part, str) and part for part in command)
            ):
                raise fail(
                    "migration_command",
                    list(command) if isinstance(command, tuple) else command,
                    'expected a non-empty JSON list of strings, such as ["python", "-m", "app.migrate"]',
                )
            if not self.enabled:
                raise fail(
                    "migration_command",
                    list(command),
                    "a migration needs a database; set database to aurora-postgresql",
                )
        require_int("migration_timeout_minutes", self.migration_timeout_minutes, 1, MAX_MIGRATION_MINUTES)

    @property
    def enabled(self) -> bool:
        return self.engine != "none"
