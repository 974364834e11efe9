"""The tutorial's change as a pyinfra deploy, written as an administrator would.

Run by bench/compare.py: pyinfra INVENTORY deploy.py -y (inventory made from the lab's).
"""

from io import StringIO

from pyinfra import host
from pyinfra.operations import files, server

PRIMARY = host.data.primary
SECONDARY = host.data.secondary
INCLUDE = 'include "/etc/bind/named.conf.dnsctl";'

ZONE = f"""$ORIGIN example.com.
$TTL 3600
@\tIN SOA ns1.example.com. hostmaster.example.com. ( 2026112500 3600 600 1209600 300 )
@\tIN NS ns1.example.com.
@\tIN NS ns2.example.com.
ns1\tIN A {PRIMARY}
ns2\tIN A {SECONDARY}
pc1\tIN A 198.51.100.50
"""

PRIMARY_STANZA = f"""zone "example.com" {{
\ttype master;
\tfile "/var/lib/bind/example.com.db";
\tallow-transfer {{ {SECONDARY}; }};
\tnotify explicit;
\tnotify-delay 0;
\talso-notify {{ {SECONDARY}; }};
}};
"""

SECONDARY_STANZA = f"""zone "example.com" {{
\ttype slave;
\tfile "/var/cache/bind/slaves/example.com.db";
\tmasters {{ {PRIMARY}; }};
}};
"""

role = host.data.role
if role in ("primary", "secondary"):
    changed = []
    if role == "primary":
        changed.append(
            files.put(
                name="zone file",
                src=StringIO(ZONE),
                dest="/var/lib/bind/example.com.db",
                group="bind",
                mode="644",
            )
        )
    else:
        files.directory(
            name="secondaries' directory", path="/var/cache/bind/slaves", group="bind", mode="775"
        )
    changed.append(
        files.put(
            name="zone stanza",
            src=StringIO(PRIMARY_STANZA if role == "primary" else SECONDARY_STANZA),
            dest="/etc/bind/named.conf.dnsctl",
            group="bind",
            mode="644",
        )
    )
    changed.append(
        files.line(
            name="include the stanzas",
            path="/etc/bind/named.conf.local",
            line=INCLUDE,
            escape_regex_characters=True,
        )
    )
    # Before the reload: a secondary that cannot reach its primary retries only after the SOA retry.
    server.shell(
        name="allow dns in firewalld",
        commands=[
            "firewall-cmd --query-service=dns || firewall-cmd --add-service=dns",
            "firewall-cmd --permanent --query-service=dns || firewall-cmd --permanent --add-service=dns",
        ],
    )
    server.shell(
        name="reload named",
        commands=["rndc reload"],
        _if=lambda: any(operation.did_change() for operation in changed),
    )
else:
    server.shell(
        name="DNS servers of the connection",
        commands=[
            f"nmcli -g ipv4.dns connection show lab | grep -qx '{PRIMARY},{SECONDARY}' || "
            f"{{ nmcli connection modify lab ipv4.dns '{PRIMARY} {SECONDARY}' ipv4.ignore-auto-dns yes "
            "&& nmcli connection up lab; }"
        ],
    )
