"""Lifecycle hooks a release runs in each region, as Lambda functions (standard library plus boto3).

Each module serves both deployment engines: ``handler`` is CodeDeploy's contract (report with
PutLifecycleEventHookExecutionStatus), ``ecs_handler`` is Amazon ECS's (return ``hookStatus``).
The folder is the functions' code asset: keep it to hook modules.
"""
