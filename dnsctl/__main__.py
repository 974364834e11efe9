"""`python -m dnsctl`: the same program as the `dnsctl` command."""

from dnsctl.cli import PROG_NAME, main

main(prog_name=PROG_NAME)
