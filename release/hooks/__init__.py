"""Code a release and a regional stack run as Lambda functions (standard library plus boto3).

Lifecycle hooks: each module serves both deployment engines: ``handler`` is CodeDeploy's contract (report
with PutLifecycleEventHookExecutionStatus), ``ecs_handler`` is Amazon ECS's (return ``hookStatus``).
Custom resources: ``on_event`` answers CloudFormation through :mod:`cfn_response`.
The folder is the functions' code asset: keep it to those modules.
"""
