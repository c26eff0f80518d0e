"""One Fargate task in the region's private subnets (the migration, the database setup): start it.

CLUSTER, SUBNETS (comma-separated) and SECURITY_GROUP come from the function's environment.
"""

from __future__ import annotations

import os


def start_one(ecs, task_definition: str, started_by: str, **options) -> str:
    """The started task's ARN, or raise RuntimeError naming ECS's failures; ``options`` go to RunTask."""
    env = os.environ
    started = ecs.run_task(
        cluster=env["CLUSTER"],
        taskDefinition=task_definition,
        launchType="FARGATE",
        count=1,
        startedBy=started_by[:128],
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": env["SUBNETS"].split(","),
                "securityGroups": [env["SECURITY_GROUP"]],
                "assignPublicIp": "DISABLED",
            }
        },
        **options,
    )
    if not started["tasks"]:
        raise RuntimeError(f"{task_definition} did not start: {started['failures']}")
    return started["tasks"][0]["taskArn"]
