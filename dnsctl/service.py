"""Starting named through systemd, as apply (activation, rollback) and failover-test do."""

from __future__ import annotations

# $1 start or restart, $2 the service. systemd refuses a unit started too often in a short
# time (StartLimitBurst, start-limit-hit) until its failed state is reset: dnsctl starts
# named only when asked to (--restart), to bring back what it served (a rollback), or to
# bring the primary back after a failover test, which such a refusal must not stop, so it
# resets that one state once and tries again.
START_SCRIPT = r"""
systemctl "$1" "$2" && exit 0
status=$?
[ "$(systemctl show -p Result --value "$2")" = start-limit-hit ] || exit "$status"
echo "dnsctl: $2 hit systemd's start limit: reset-failed, then $1 again" >&2
systemctl reset-failed "$2" && systemctl "$1" "$2"
"""


def start_command(action: str, service: str) -> list[str]:
    """`systemctl ACTION SERVICE` (start or restart), past systemd's start limit. The script
    is labelled `systemctl`, so logs and errors show the command as it reads."""
    return ["sh", "-c", START_SCRIPT, "systemctl", action, service]
