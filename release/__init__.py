"""Build-time code that runs inside the pipeline (standard library only)."""
