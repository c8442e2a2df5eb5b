"""Linux /proc helpers for the Ray tests: a process's descendants and the TCP ports they listen on."""

from __future__ import annotations

import ipaddress
import os
from collections import defaultdict
from pathlib import Path

PROC = Path("/proc")


def available() -> bool:
    return (PROC / "net" / "tcp").exists()


def descendants(pid: int) -> set[int]:
    """Every live process below `pid` (children, their children, ...)."""
    children = defaultdict(list)
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rpartition(")")[2].split()[1])  # the name in (...) may hold spaces
        children[ppid].append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children[todo.pop()]:
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    """Running (a zombie, already dead but not reaped, counts as gone)."""
    try:
        state = (PROC / str(pid) / "stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def _address(hex_ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """/proc/net/tcp{,6} address: host-order 32-bit words in hex."""
    raw = b"".join(bytes.fromhex(hex_ip[i:i + 8])[::-1] for i in range(0, len(hex_ip), 8))
    if len(raw) == 4:
        return ipaddress.IPv4Address(raw)
    v6 = ipaddress.IPv6Address(raw)
    return v6.ipv4_mapped or v6


def listening(pids: set[int]) -> list[tuple[int, str, bool]]:
    """(pid, address:port, on loopback) of every TCP socket in LISTEN state that one of `pids` holds."""
    sockets = {}
    for table in ("tcp", "tcp6"):
        path = PROC / "net" / table
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A":  # TCP_LISTEN
                hex_ip, hex_port = fields[1].split(":")
                sockets[fields[9]] = (_address(hex_ip), int(hex_port, 16))
    found = []
    for pid in pids:
        try:
            fds = os.listdir(PROC / str(pid) / "fd")
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink(PROC / str(pid) / "fd" / fd)
            except OSError:
                continue
            inode = link[len("socket:["):-1] if link.startswith("socket:[") else None
            if inode in sockets:
                ip, port = sockets[inode]
                found.append((pid, f"{ip}:{port}", ip.is_loopback))
    return found
