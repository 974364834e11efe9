"""Read remote state: each fact is a shell script plus a pure parser of its output.

scripts       every shell script run to read a host, and the `@@name` sections of their output
host          OS, tools, named running and its version, the layout; the preflight's parts;
              whether named accepts today's configuration
firewall      firewalld's state (DNS allowed?) and a zone's rules
files         files read without following a link, include targets, directories to create
named_config  `named-checkconf -px` (zones, listen-on, allow-transfer) and `rndc zonestatus`
client        NetworkManager's DNS settings, resolv.conf, getent, who answered dig
dig           a dig answer, and a zone transfer asked with dig
doctor        both ends of a zone's transfer path

The parsers are pure and tested on captured output (tests/test_facts.py).
"""
