"""Check 5, the domain with latency routing: see domain_case.py."""

from domain_case import check_domain

check_domain("domain-latency", "latency")
