"""The benchmark's floor: a CDK app with one empty stack (the CLI rejects an app with none)."""

import aws_cdk as cdk

app = cdk.App()
cdk.Stack(app, "Floor")
app.synth()
