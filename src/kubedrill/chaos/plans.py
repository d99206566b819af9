"""--dry-run: what an experiment would do, resolved against the live cluster, touching nothing.

For each activity of the method, a fault's ``plan_<func>`` (in ``kubedrill.chaos.activities``) resolves
the exact targets and commands; other activities are listed as the calls they are.
"""

from __future__ import annotations

from typing import Any

from kubedrill.backends.cluster import Cluster
from kubedrill.chaos import activities
from kubedrill.errors import DrillError


def render(experiment: dict[str, Any], cluster: Cluster) -> str:
    lines = [f"experiment: {experiment.get('title', '?')}", f"cluster: {cluster.context} ({cluster.backend})"]
    for section in ("method", "rollbacks"):
        for act in experiment.get(section, []) or []:
            provider = act.get("provider", {})
            func = provider.get("func", "?")
            args = provider.get("arguments", {}) or {}
            planner = getattr(activities, f"plan_{func}", None)
            if planner is not None and provider.get("module") == activities.__name__:
                try:
                    text = planner(cluster, **args).render()
                except DrillError as e:  # e.g. etcdctl missing on a host, which a dry run does not copy there
                    text = f"targets not resolved: {e}"
                lines.append(f"{section}: {act.get('name')}\n" + "\n".join(f"  {x}" for x in text.splitlines()))
            else:
                lines.append(f"{section}: {act.get('name')}: {provider.get('module')}.{func}({args})")
    return "\n".join(lines)
