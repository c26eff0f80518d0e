"""The release's settings: the typed configuration (ReleaseConfig and its parts), where it is read from (cdk.json,
a deployment's file, -c), the one list of settings the docs' reference is generated from, and the checks every
value passes (regions, accounts, locations, retention periods, the CDK feature flags the release is tested with).
"""
