"""The project's stack classes: one regional stack per deployment region, one pipeline stack."""
