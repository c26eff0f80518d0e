"""The two blue/green deployment engines: CodeDeploy (deployment groups, lifecycle hooks) and Amazon ECS's
built-in blue/green (its hooks and the released image), with what both share: the Lambda hooks, the schema
migration and the test-traffic check.
"""
