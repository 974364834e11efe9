"""The floor: the tutorial's change as a straight-line paramiko script, no checks at all.

The same remote commands dnsctl ends up running for the change (zone file, the
managed stanza file, the include line, a reload, firewalld runtime and permanent,
NetworkManager on the client), with nothing read first, nothing validated,
backed up, locked or verified. Only the standard library and paramiko are
imported, so its start-up is the least a Python tool can pay.

Usage: python bench/floor.py INVENTORY primary|secondary|client|noop
"""

from __future__ import annotations

import shlex
import socket
import sys
import tomllib
from concurrent.futures import ThreadPoolExecutor

import paramiko

INCLUDE = 'include "/etc/bind/named.conf.dnsctl";'


def connect(inventory: dict, address: str) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    client.load_host_keys(inventory["ssh"]["known_hosts"])
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    sock = socket.create_connection((address, 22), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    client.connect(
        address, username="root", key_filename=inventory["ssh"]["key"], sock=sock, look_for_keys=False
    )
    return client


def run(client: paramiko.SSHClient, command: str, data: str | None = None) -> str:
    stdin, stdout, _ = client.exec_command(command)
    if data is not None:
        stdin.write(data)
    stdin.channel.shutdown_write()
    out = stdout.read().decode()
    if stdout.channel.recv_exit_status() != 0:
        raise SystemExit(f"failed: {command}")
    return out


def zone_text(primary: str, secondary: str) -> str:
    return (
        "$ORIGIN example.com.\n$TTL 3600\n"
        "@\tIN SOA ns1.example.com. hostmaster.example.com. ( 2026112500 3600 600 1209600 300 )\n"
        "@\tIN NS ns1.example.com.\n@\tIN NS ns2.example.com.\n"
        f"ns1\tIN A {primary}\nns2\tIN A {secondary}\npc1\tIN A 198.51.100.50\n"
    )


def stanza(kind: str, primary: str, secondary: str) -> str:
    if kind == "primary":
        body = (
            'type master; file "/var/lib/bind/example.com.db"; '
            f"allow-transfer {{ {secondary}; }}; notify explicit; notify-delay 0; "
            f"also-notify {{ {secondary}; }};"
        )
    else:
        body = f'type slave; file "/var/cache/bind/slaves/example.com.db"; masters {{ {primary}; }};'
    return f'zone "example.com" {{ {body} }};\n'


def configure_server(client: paramiko.SSHClient, kind: str, primary: str, secondary: str) -> None:
    if kind == "primary":
        run(client, "cat > /var/lib/bind/example.com.db", zone_text(primary, secondary))
    else:
        run(client, "install -d -o root -g bind -m 0775 /var/cache/bind/slaves")
    run(client, "cat > /etc/bind/named.conf.dnsctl", stanza(kind, primary, secondary))
    run(
        client,
        f"grep -qF {shlex.quote(INCLUDE)} /etc/bind/named.conf.local || "
        f"echo {shlex.quote(INCLUDE)} >> /etc/bind/named.conf.local",
    )
    run(client, "rndc reload")
    run(client, "firewall-cmd --add-service=dns")
    run(client, "firewall-cmd --permanent --add-service=dns")


def configure_client(client: paramiko.SSHClient, primary: str, secondary: str) -> None:
    run(client, f"nmcli connection modify lab ipv4.dns '{primary} {secondary}' ipv4.ignore-auto-dns yes")
    run(client, "nmcli connection up lab")


def noop_check(inventory: dict, primary: str, secondary: str, client_address: str) -> None:
    """Read back what the change wrote, on every host in parallel, and compare."""

    def server(kind: str, address: str) -> bool:
        ssh = connect(inventory, address)
        files = run(ssh, "cat /etc/bind/named.conf.dnsctl /etc/bind/named.conf.local")
        same = stanza(kind, primary, secondary) in files and INCLUDE in files
        if kind == "primary":
            same = same and run(ssh, "cat /var/lib/bind/example.com.db") == zone_text(primary, secondary)
        services = run(ssh, "firewall-cmd --list-services; firewall-cmd --permanent --list-services")
        return same and services.split().count("dns") == 2

    def client() -> bool:
        ssh = connect(inventory, client_address)
        dns = run(ssh, "nmcli -g ipv4.dns,ipv4.ignore-auto-dns connection show lab").split()
        return dns == [f"{primary},{secondary}", "yes"]

    with ThreadPoolExecutor(3) as pool:
        results = [
            pool.submit(server, "primary", primary),
            pool.submit(server, "secondary", secondary),
            pool.submit(client),
        ]
    if not all(result.result() for result in results):
        raise SystemExit("drift found")


def main() -> None:
    path, step = sys.argv[1], sys.argv[2]
    with open(path, "rb") as handle:
        inventory = tomllib.load(handle)
    primary = inventory["servers"]["ns1"]["address"]
    secondary = inventory["servers"]["ns2"]["address"]
    client_address = inventory["clients"]["client1"]["address"]
    if step == "noop":
        noop_check(inventory, primary, secondary, client_address)
    elif step == "client":
        configure_client(connect(inventory, client_address), primary, secondary)
    else:
        address = primary if step == "primary" else secondary
        configure_server(connect(inventory, address), step, primary, secondary)


if __name__ == "__main__":
    main()
