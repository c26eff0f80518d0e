"""The operator commands that talk to AWS: bootstrap/diff/deploy (the CDK CLI), preflight, release, status,
break-glass and destroy, with what they share (patient AWS calls, regional state, service-linked roles,
deletion protection) and the sample source.
"""
