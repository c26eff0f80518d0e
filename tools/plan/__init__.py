"""Reading cdk.out without AWS: the release plan (`make plan`), its routing, time and cost estimate (and the
price table with its refresher, `make prices`), where data lives, the diagram, and the synth summary.
"""
