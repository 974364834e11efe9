from dnsctl.cli import main

main()
