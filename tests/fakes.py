"""A recording fake of node access, in the spirit of httpx's ``MockTransport``.

The runtimes and faults above it are real; only the last hop (running argv on a node) is replaced by a
function that receives each command and answers it. A test then reads "given these answers, these exact
commands were issued":

    node = RecordingAccess(lambda node, argv: "c0ffee" if argv[:2] == ["crictl", "ps"] else "")
    StaticPodRuntime(node).kill("etcd", "cp-1")
    assert node.commands("cp-1") == [[...crictl ps...], ["crictl", "stop", "--timeout", "0", "c0ffee"]]
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass, field

from kubedrill.backends.shell import Result
from kubedrill.errors import BackendError

# An answer: stdout (exit 0), or (exit code, stdout), or a whole Result.
Answer = str | tuple[int, str] | Result
Handler = Callable[[str, list[str]], Answer]


def _ok(node: str, argv: list[str]) -> Answer:
    return ""


@dataclass
class RecordingAccess:
    """A ``NodeAccess`` that runs nothing: it records every command and copy, and answers from ``handler``."""

    handler: Handler = _ok
    calls: list[tuple[str, list[str]]] = field(default_factory=list)
    copies: list[tuple[str, str, str, str]] = field(default_factory=list)  # (direction, node, source, dest)
    name: str = "recording"

    def run(self, node: str, argv: list[str], timeout_s: float = 30.0, check: bool = True) -> Result:
        self.calls.append((node, list(argv)))
        answer = self.handler(node, list(argv))
        if isinstance(answer, Result):
            result = answer
        elif isinstance(answer, tuple):
            result = Result(tuple(argv), answer[0], answer[1], "" if answer[0] == 0 else "scripted failure")
        else:
            result = Result(tuple(argv), 0, answer, "")
        if check and not result.ok:
            raise BackendError(f"on {node}: {shlex.join(argv)} exited {result.returncode}")
        return result

    def describe(self, node: str, argv: list[str]) -> str:
        return f"on {node}: {shlex.join(argv)}"

    def copy_to(self, node: str, local: str, remote: str) -> None:
        self.copies.append(("to", node, local, remote))

    def copy_from(self, node: str, remote: str, local: str) -> None:
        self.copies.append(("from", node, remote, local))

    def commands(self, node: str | None = None) -> list[list[str]]:
        """The argv of every command run (on ``node``), in order."""
        return [argv for n, argv in self.calls if node is None or n == node]
