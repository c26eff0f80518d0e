"""`make bench`: synth and test-suite timings against an empty app, checked against the targets."""
