"""Find and remove the cgroup directories LXC makes (and leaves) for a cove container:
``cove-lxc/<id>``, ``cove-lxc/<id>-monitor`` and ``cove-lxc/<id>-pivot/lxc.pivot`` in
every hierarchy (see :func:`cove.runtime.lxc.config.cgroup_dirs`)."""

from __future__ import annotations

import os

from cove.kernel.cgroups import ROOT, V1_CONTROLLERS, Cgroup, version
from cove.runtime.lxc.config import cgroup_dirs


def hierarchies(root: str = ROOT) -> list[str]:
    """The mount points of the cgroup hierarchies (one on v2)."""
    if version(root) == 2:
        return [root]
    out, seen = [], set()
    for name in sorted(os.listdir(root)):
        path = os.path.join(root, name)
        real = os.path.realpath(path)
        if os.path.islink(path) or real in seen or not os.path.ismount(path):
            continue
        seen.add(real)
        out.append(path)
    return out


def leftovers(container_id: str, root: str = ROOT) -> Cgroup:
    """A :class:`Cgroup` naming every directory LXC may have made, children first."""
    rel = cgroup_dirs(container_id)
    order = [rel["pivot"] + "/lxc.pivot", rel["pivot"], rel["monitor"],
             rel["container"]]
    dirs = {f"{h}:{r}": os.path.join(h, r) for r in order for h in hierarchies(root)}
    return Cgroup(version(root), dirs)


def existing(container_id: str, root: str = ROOT) -> list[str]:
    """The directories of :func:`leftovers` that exist now."""
    return [d for d in leftovers(container_id, root).dirs.values() if os.path.isdir(d)]


def remove(container_id: str, root: str = ROOT) -> list[str]:
    """Remove them (gone already is fine); returns error messages."""
    cg = leftovers(container_id, root)
    cg.dirs = {k: v for k, v in cg.dirs.items() if os.path.isdir(v)}
    return cg.remove()


def container(container_id: str, root: str = ROOT) -> Cgroup:
    """The container's own cgroup (where LXC puts its processes), for stats and freeze."""
    rel = cgroup_dirs(container_id)["container"]
    if version(root) == 2:
        return Cgroup(2, {"": os.path.join(root, rel)})
    return Cgroup(1, {c: os.path.join(root, c, rel) for c in V1_CONTROLLERS
                      if os.path.isdir(os.path.join(root, c))})
