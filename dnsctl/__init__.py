"""dnsctl: set up BIND primary/secondary DNS servers and their clients over SSH, and prove failover."""

__version__ = "0.1.0"
