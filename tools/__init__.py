"""Operator tools that read the synthesized cloud assembly (cdk.out)."""
