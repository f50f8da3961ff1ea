"""Named local volumes: a directory ``<root>/volumes/<name>/_data`` and a store record.

Docker's ``local`` driver without options: create (idempotent for an existing name),
list, inspect, remove (409 while a container uses it, unless it is gone), prune.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import threading
from typing import Any

from cove.errors import Conflict, InvalidParameter, NotFound
from cove.model import now_iso

KIND = "volume"
_VALID = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")


class VolumeStore:
    def __init__(self, root: str, store: Any) -> None:
        self.dir = os.path.join(root, "volumes")
        self.store = store
        self._lock = threading.Lock()

    def _doc(self, name: str, labels: dict[str, str], options: dict[str, str]) -> dict:
        return {"Name": name, "Driver": "local",
                "Mountpoint": os.path.join(self.dir, name, "_data"),
                "CreatedAt": now_iso(), "Labels": labels or {}, "Scope": "local",
                "Options": options or None}

    def create(self, name: str = "", driver: str = "local",
               labels: dict[str, str] | None = None,
               options: dict[str, str] | None = None) -> dict[str, Any]:
        if driver not in ("", "local"):
            raise NotFound(f"error looking up volume plugin {driver}: plugin \"{driver}\" "
                           "not found")
        if options:
            raise InvalidParameter("the local volume driver of cove takes no options")
        name = name or secrets.token_hex(32)
        if not _VALID.match(name):
            raise InvalidParameter(
                f'create {name}: "{name}" includes invalid characters for a local volume '
                'name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass '
                "a host directory, use absolute path")
        with self._lock:
            existing = self.store.get(KIND, name)
            if existing:
                return existing
            doc = self._doc(name, dict(labels or {}), dict(options or {}))
            os.makedirs(doc["Mountpoint"], mode=0o755, exist_ok=True)
            try:
                self.store.put(KIND, name, doc)
            except BaseException:
                shutil.rmtree(os.path.join(self.dir, name), ignore_errors=True)
                raise
            return doc

    def get(self, name: str) -> dict[str, Any]:
        doc = self.store.get(KIND, name) if name else None
        if doc is None:
            raise NotFound(f"get {name}: no such volume")
        return doc

    def list(self) -> list[dict[str, Any]]:
        return sorted(self.store.list(KIND), key=lambda d: d["Name"])

    def remove(self, name: str, users: list[str], force: bool = False) -> None:
        with self._lock:
            if self.store.get(KIND, name) is None:
                if force:
                    return
                raise NotFound(f"get {name}: no such volume")
            if users:
                raise Conflict(f"remove {name}: volume is in use - [{', '.join(users)}]")
            self.store.delete(KIND, name)
            shutil.rmtree(os.path.join(self.dir, name), ignore_errors=True)

    def prune(self, used: set[str], labels: list[str]) -> tuple[list[str], int]:
        """Remove unused volumes (matching every ``label`` filter); (names, bytes freed)."""
        deleted, freed = [], 0
        for doc in self.list():
            if doc["Name"] in used or not _labels_match(doc.get("Labels") or {}, labels):
                continue
            freed += _du(doc["Mountpoint"])
            self.remove(doc["Name"], [], force=True)
            deleted.append(doc["Name"])
        return deleted, freed


def _labels_match(have: dict[str, str], wanted: list[str]) -> bool:
    for lab in wanted:
        k, eq, v = lab.partition("=")
        if k not in have or (eq and have[k] != v):
            return False
    return True


def _du(path: str) -> int:
    total = 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(dirpath, f)).st_size
            except OSError:
                pass
    return total


def volume_names_in_binds(binds: list[str]) -> list[str]:
    """The named volumes among ``-v`` specs ("name:/path[:ro]"; host paths start with /)."""
    out = []
    for b in binds:
        src = b.split(":", 1)[0]
        if src and not src.startswith("/") and ":" in b:
            out.append(src)
    return out


def resolve_binds(store: VolumeStore, binds: list[str], create: bool) -> list[str]:
    """``binds`` with each named volume ("name:/path[:mode]") replaced by its mountpoint;
    the volume is created when missing and ``create`` (Docker creates it at ``run``)."""
    out = []
    for b in binds:
        src, sep, rest = b.partition(":")
        if sep and src and not src.startswith("/"):
            try:
                doc = store.get(src)
            except NotFound:
                if not create:
                    raise
                doc = store.create(src)
            b = f"{doc['Mountpoint']}:{rest}"
        out.append(b)
    return out


def check_binds(store: VolumeStore, binds: list[str]) -> list[str]:
    """``binds`` for validation only: named volumes (existing or to be created) stand in
    as "/" so that only the syntax and the container paths are checked."""
    out = []
    for b in binds:
        src, sep, rest = b.partition(":")
        if sep and src and not src.startswith("/"):
            if not _VALID.match(src):
                raise InvalidParameter(f"invalid volume specification: '{b}'")
            b = f"/:{rest}"
        out.append(b)
    return out


def ensure_volumes(store: VolumeStore, binds: list[str], anonymous: list[str]
                   ) -> tuple[list[str], list[str]]:
    """Create the missing named volumes of ``binds`` and one anonymous volume per
    container path in ``anonymous`` not already a bind target. Returns (the names of the
    volumes created, the ``name:/path`` specs of the anonymous ones)."""
    created: list[str] = []
    targets = {b.split(":")[1].rstrip("/") or "/" for b in binds if b.count(":") >= 1}
    try:
        for name in volume_names_in_binds(binds):
            try:
                store.get(name)
            except NotFound:
                store.create(name)
                created.append(name)
        anon = []
        for path in anonymous:
            if os.path.normpath(path) in targets:
                continue
            doc = store.create("")
            created.append(doc["Name"])
            anon.append(f"{doc['Name']}:{os.path.normpath(path)}")
    except BaseException:
        for name in created:
            store.remove(name, [], force=True)
        raise
    return created, anon
