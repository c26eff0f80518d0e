"""What `make diff` and `make deploy` refuse before CloudFormation would fail or break production: changes that
replace what CodeDeploy, ECS, the database or the routing depend on, read against CloudFormation's create-only
properties.
"""
