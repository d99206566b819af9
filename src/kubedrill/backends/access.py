"""Node access: how kubedrill runs a command on a node and copies files to and from it.

One small protocol, ``NodeAccess``, and one implementation per way of reaching a node:

- ``NetnsAccess``: the embedded cluster, a node is a network namespace on this machine (``ip netns exec``);
- ``DockerExecAccess``: kind, a node is a container (``docker exec``, ``docker cp``);
- ``SshAccess``: real hosts from an inventory (``ssh``/``scp`` in batch mode).

Each differs only in the argv prefix it puts in front of a command; everything above this module
(component runtimes, faults) is written once against the protocol. Commands are argv lists; where a node
needs a shell (several commands in one round trip, a timer that must outlive the ssh session),
``shell_argv`` is the one place that quotes one.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shlex
import shutil
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from kubedrill.backends import shell
from kubedrill.backends.shell import Result
from kubedrill.errors import BackendError

HOST = "host"  # the embedded cluster's host-side components (HAProxy, KWOK, …) run in no node namespace
# What `eval $(kubedrill env)` exports for the operator's shell; a command run "on a node" must not see it
# (ssh does not carry it either), or etcdctl refuses ETCDCTL_* that shadow its own flags.
OPERATOR_ENV_PREFIXES = ("ETCDCTL_",)


class NodeAccess(Protocol):
    """How to run a command on a node."""

    @property
    def name(self) -> str:
        """``netns``, ``docker`` or ``ssh``."""
        ...

    def run(self, node: str, argv: list[str], timeout_s: float = 30.0, check: bool = True) -> Result: ...

    def describe(self, node: str, argv: list[str]) -> str:
        """The command as it would be run (for --dry-run and the report)."""
        ...

    def copy_to(self, node: str, local: str, remote: str) -> None:
        """Copy a file from this machine to ``remote`` on the node (a snapshot, a binary)."""
        ...

    def copy_from(self, node: str, remote: str, local: str) -> None:
        """Copy ``remote`` on the node to ``local`` on this machine."""
        ...


@dataclass(frozen=True)
class UntilFails:
    """A step a shell script repeats until it fails: deleting every copy of an iptables jump, say."""

    argv: tuple[str, ...]


Step = Sequence[str] | UntilFails


def shell_script(*steps: Step, stop_on_failure: bool = False) -> str:
    """``steps`` (each an argv, quoted here) as one shell script: run one after another whatever each
    returns, or with ``stop_on_failure`` only while each succeeds (the script's exit is the first failure)."""
    parts = [
        f"while {shlex.join(s.argv)} 2>/dev/null; do :; done" if isinstance(s, UntilFails) else shlex.join(s)
        for s in steps
    ]
    return (" && " if stop_on_failure else "; ").join(parts)


def shell_argv(*steps: Step, stop_on_failure: bool = False, detach: bool = False) -> list[str]:
    """One ``sh -c`` running ``steps``: one round trip to the node instead of one per command.

    With ``detach`` the script runs in its own session with no terminal (``setsid -f``), so it outlives the
    command that started it: how a partition's self-heal timer survives the runner and the ssh session."""
    script = shell_script(*steps, stop_on_failure=stop_on_failure)
    if detach:
        return ["sh", "-c", f"setsid -f sh -c {shlex.quote(script)} </dev/null >/dev/null 2>&1"]
    return ["sh", "-c", script]


@dataclass(frozen=True)
class NetnsAccess:
    """The embedded cluster: a node is a network namespace on this machine."""

    netns_of: dict[str, str]
    name: str = "netns"
    # Workers: KWOK plays their kubelets, one process per worker on this machine (no namespace of their own).
    host_nodes: tuple[str, ...] = ()

    def argv(self, node: str, argv: Sequence[str]) -> list[str]:
        if node == HOST or node in self.host_nodes:  # HAProxy, Prometheus, KWOK run on this machine itself
            return list(argv)
        try:
            ns = self.netns_of[node]
        except KeyError:
            raise BackendError(f"unknown node {node!r}; nodes: {sorted(self.netns_of)}") from None
        return ["ip", "netns", "exec", ns, *argv]

    def run(self, node: str, argv: list[str], timeout_s: float = 30.0, check: bool = True) -> Result:
        return shell.run(
            self.argv(node, argv), timeout_s=timeout_s, check=check, drop_env_prefixes=OPERATOR_ENV_PREFIXES
        )

    def describe(self, node: str, argv: list[str]) -> str:
        return shlex.join(self.argv(node, argv))

    def copy_to(self, node: str, local: str, remote: str) -> None:
        # A namespace shares this machine's filesystem.
        if Path(local).resolve() != Path(remote).resolve():
            shell.run(["cp", "--", local, remote])

    def copy_from(self, node: str, remote: str, local: str) -> None:
        self.copy_to(node, remote, local)


@dataclass(frozen=True)
class DockerExecAccess:
    """kind: a node is a container named after the node (``kind-control-plane``, ``kind-control-plane2``)."""

    docker: str = "docker"
    name: str = "docker"

    def argv(self, node: str, argv: Sequence[str]) -> list[str]:
        return [self.docker, "exec", node, *argv]

    def run(self, node: str, argv: list[str], timeout_s: float = 30.0, check: bool = True) -> Result:
        return shell.run(self.argv(node, argv), timeout_s=timeout_s, check=check)

    def describe(self, node: str, argv: list[str]) -> str:
        return shlex.join(self.argv(node, argv))

    def copy_to(self, node: str, local: str, remote: str) -> None:
        shell.run([self.docker, "cp", local, f"{node}:{remote}"], timeout_s=120)

    def copy_from(self, node: str, remote: str, local: str) -> None:
        shell.run([self.docker, "cp", f"{node}:{remote}", local], timeout_s=120)

    def container_address(self, container: str) -> str | None:
        """A container's address on its (first) network, or None when there is no such container."""
        each_network = "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}"
        out = shell.run([self.docker, "inspect", "--format", each_network, container], check=False, timeout_s=30)
        addresses = out.stdout.split() if out.ok else []
        return addresses[0] if addresses else None


@dataclass(frozen=True)
class SshHost:
    address: str
    user: str = "root"
    port: int = 22
    identity_file: str | None = None
    become: bool = False  # run every command with `sudo -n` (a non-root user with passwordless sudo)
    host_key: str | None = None  # pinned: "ssh-ed25519 AAAA…"; ssh then trusts this key and no other


def known_hosts_line(h: SshHost) -> str:
    """A known_hosts line pinning ``h``'s key under the name ssh looks it up by (``[addr]:port`` off port 22)."""
    name = h.address if h.port == 22 else f"[{h.address}]:{h.port}"
    return f"{name} {h.host_key}"


SUDO = ("sudo", "-n", "--")  # -n: fail at once where sudo wants a password, never prompt
# An idle shared connection closes itself this long after its last command, so a runner killed outright (no
# exit handler) leaves no ssh process for longer than that.
CONTROL_PERSIST_S = 30
# A shared connection whose host stopped answering is given up after 3 × 5 s, and the next command connects
# anew, rather than waiting on a dead TCP connection.
SERVER_ALIVE = ("-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3")


class _SharedConnections:
    """One ssh connection per host, shared by every command this process runs there (OpenSSH's
    ``ControlMaster``, as Ansible's ssh connection does it).

    Without it each command is a new connection: a key exchange and an authentication on both ends, and on the
    host a forked ``sshd``. A drill polls etcd's status over ssh several times a second while it waits for an
    election, so on a busy or distant host the handshakes dominate what is measured and load the very host the
    drill judges. The sockets live in a directory of this process's, mode 0700 (a socket is a logged-in
    session: whoever can open it runs commands as the ssh user); at exit every connection is closed and the
    directory removed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._dir: str | None = None
        self._owner = 0
        atexit.register(self.close)  # a no-op in a process that never opened one

    def options(self, trust: str) -> list[str]:
        """ssh's options for the shared connection to a host reached with ``trust`` (the identity and host-key
        settings): a connection opened under other settings is never reused, so a host key is always checked
        the way the command's own options say."""
        with self._lock:
            if self._dir is None or self._owner != os.getpid():  # a forked child shares nothing of the parent's
                self._dir = tempfile.mkdtemp(prefix="kubedrill-ssh-")  # short: a socket path has ~100 bytes
                self._owner = os.getpid()
            directory = Path(self._dir) / hashlib.sha256(trust.encode()).hexdigest()[:8]
            directory.mkdir(mode=0o700, exist_ok=True)
        # %C: a hash of the host, port and user, so each (user, host) has its own connection.
        return ["-o", "ControlMaster=auto", "-o", f"ControlPath={directory}/%C",
                "-o", f"ControlPersist={CONTROL_PERSIST_S}", *SERVER_ALIVE]  # fmt: skip

    def close(self) -> None:
        """Close every shared connection this process opened (``ssh -O exit``) and remove their directory."""
        with self._lock:
            directory, self._dir = self._dir, None
        if directory is None or self._owner != os.getpid():
            return
        for socket in Path(directory).glob("*/*"):
            # The socket's path is literal (no %-tokens), so the host named after it is only a placeholder.
            shell.run(["ssh", "-o", f"ControlPath={socket}", "-O", "exit", "kubedrill"], check=False, timeout_s=10)
        shutil.rmtree(directory, ignore_errors=True)


SHARED_CONNECTIONS = _SharedConnections()


@dataclass(frozen=True)
class SshAccess:
    """Real nodes: ``ssh`` with batch mode (never a password prompt), from an inventory.

    Host keys, in this order: a key pinned for the host in the inventory is the only one accepted (a file of
    the pinned keys is written to ``pinned_known_hosts``); else ``known_hosts`` when the inventory names one,
    trusting a host's key on first use and refusing a changed one after (``accept-new``); else ssh's own
    known_hosts, where an unknown host fails (batch mode cannot ask). Hosts with ``become`` run every command
    through ``sudo -n``, and files are copied through a temporary file of the ssh user's."""

    hosts: dict[str, SshHost]
    known_hosts: str | None = None  # None: ssh's own known_hosts, as the operator's ssh would use
    connect_timeout_s: int = 5
    name: str = "ssh"
    share_connections: bool = True  # one connection per host for every command (see _SharedConnections)
    pinned_known_hosts: str | None = None  # where the pinned keys are written (needed when any host pins one)

    def __post_init__(self) -> None:
        pinned = [known_hosts_line(h) for h in self.hosts.values() if h.host_key]
        if pinned:
            if self.pinned_known_hosts is None:
                raise BackendError("host keys are pinned in the inventory, but no file to write them to was given")
            path = Path(self.pinned_known_hosts)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("\n".join(pinned) + "\n")

    def _host(self, node: str) -> SshHost:
        try:
            return self.hosts[node]
        except KeyError:
            raise BackendError(f"node {node!r} is not in the inventory; nodes: {sorted(self.hosts)}") from None

    def _options(self, h: SshHost, port_flag: str) -> list[str]:
        """The options ssh and scp share; only the port flag differs (``-p`` vs ``-P``)."""
        opts = ["-o", "BatchMode=yes", "-o", f"ConnectTimeout={self.connect_timeout_s}", port_flag, str(h.port)]
        if h.host_key:
            opts += ["-o", f"UserKnownHostsFile={self.pinned_known_hosts}", "-o", "StrictHostKeyChecking=yes"]
        elif self.known_hosts:
            opts += ["-o", f"UserKnownHostsFile={self.known_hosts}", "-o", "StrictHostKeyChecking=accept-new"]
        if h.identity_file:
            opts += ["-i", h.identity_file, "-o", "IdentitiesOnly=yes"]
        return opts

    def argv(self, node: str, argv: Sequence[str], become: bool | None = None) -> list[str]:
        """ssh's argv running ``argv`` on ``node``, through sudo where the host has ``become`` (or ``become``
        says so)."""
        h = self._host(node)
        remote = [*SUDO, *argv] if (h.become if become is None else become) else list(argv)
        return [
            "ssh",
            *self._options(h, "-p"),
            "-o",
            "LogLevel=ERROR",
            f"{h.user}@{h.address}",
            "--",
            shlex.join(remote),
        ]

    def _ssh_failure(self, node: str, stderr: str) -> BackendError:
        h = self._host(node)
        detail = stderr.strip()[-300:]
        hint = ""
        if "Host key verification failed" in stderr or "REMOTE HOST IDENTIFICATION HAS CHANGED" in stderr:
            hint = (
                f" (the host key of {h.address} is unknown or changed: pin it as nodes.{node}.host_key in the "
                "inventory, or name a known_hosts file there to trust it on first use)"
            )
        return BackendError(f"ssh to {node} ({h.address}) failed: {detail}{hint}")

    def run(
        self, node: str, argv: list[str], timeout_s: float = 30.0, check: bool = True, become: bool | None = None
    ) -> Result:
        h = self._host(node)
        sudo = h.become if become is None else become
        ssh = self.over_shared_connection(node, self.argv(node, argv, sudo))
        result = shell.run(ssh, timeout_s=timeout_s + self.connect_timeout_s, check=False)
        if result.returncode == 255:  # ssh's own failure, not the command's
            raise self._ssh_failure(node, result.stderr)
        if sudo and result.returncode == 1 and "sudo: a password is required" in result.stderr:
            raise BackendError(
                f"on {node}: become is set but {h.user} has no passwordless sudo (sudo -n: a password is "
                "required): give the user NOPASSWD in sudoers, or log in as root"
            )
        if check and not result.ok:
            raise BackendError(
                f"on {node}: {shlex.join(argv)} exited {result.returncode}: {result.stderr.strip()[-500:]}"
            )
        return result

    def describe(self, node: str, argv: list[str]) -> str:
        return shlex.join(self.argv(node, argv))

    def over_shared_connection(self, node: str, argv: list[str]) -> list[str]:
        """``argv`` (ssh's or scp's) over the node's shared connection; the options go right after the program."""
        if not self.share_connections:
            return argv
        h = self._host(node)
        trust = repr((h.identity_file, h.host_key, self.known_hosts, self.pinned_known_hosts))
        return [argv[0], *SHARED_CONNECTIONS.options(trust), *argv[1:]]

    def _scp(self, node: str, source: str, dest: str) -> None:
        h = self._host(node)
        argv = self.over_shared_connection(node, ["scp", *self._options(h, "-P"), "-q", source, dest])
        result = shell.run(argv, timeout_s=300, check=False)
        if not result.ok:
            raise self._ssh_failure(node, result.stderr)

    def _staging(self, node: str) -> str:
        """A private temporary file of the ssh user's on ``node`` (for copies under ``become``)."""
        return self.run(node, ["mktemp", "/tmp/kubedrill.XXXXXXXX"], become=False).stdout.strip()

    def copy_to(self, node: str, local: str, remote: str) -> None:
        h = self._host(node)
        if not h.become:
            self._scp(node, local, f"{h.user}@{h.address}:{remote}")
            return
        staged = self._staging(node)
        try:
            self._scp(node, local, f"{h.user}@{h.address}:{staged}")
            self.run(node, ["cp", staged, remote])
        finally:
            self.run(node, ["rm", "-f", staged], check=False, become=False)

    def copy_from(self, node: str, remote: str, local: str) -> None:
        h = self._host(node)
        if not h.become:
            self._scp(node, f"{h.user}@{h.address}:{remote}", local)
            return
        staged = self._staging(node)
        try:
            self.run(node, ["cp", remote, staged])  # as root: the staged file stays the ssh user's, mode 0600
            self._scp(node, f"{h.user}@{h.address}:{staged}", local)
        finally:
            self.run(node, ["rm", "-f", staged], check=False, become=False)
