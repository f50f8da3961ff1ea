"""``docker commit``: a container's changes as a new image on top of its own.

:func:`apply_changes` applies Dockerfile instructions (``CMD``, ``ENTRYPOINT``, ``ENV``,
``EXPOSE``, ``LABEL``, ``USER``, ``WORKDIR``, ``VOLUME``, ``STOPSIGNAL``) to an image
config (pure). :func:`commit_layer` turns the container's overlayfs upper dir into a
layer dir of the store: tarred with the OCI whiteouts (:func:`archive.write_layer_tar`),
extracted into ``layers/<sha256 of the tar>/`` (overlayfs whiteouts again), without the
mount-point stubs cove's runtime leaves in the upper dir (``/etc/hosts``, ``/proc``...).
:func:`register` records the image (layers = the base's + the new one) with Docker's
config JSON; its sha256 is the image id. A failure leaves no layer dir and no record.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shlex
import shutil
import tempfile
from typing import Any

from cove.engine.model import Image
from cove.errors import InvalidParameter, SystemFailure
from cove.images import archive
from cove.images.store import KIND
from cove.model import to_dict

# created in the upper dir as mount points by the runtime, not the user's changes
STUB_FILES = ("etc/hosts", "etc/hostname", "etc/resolv.conf", "sbin/docker-init")
STUB_DIRS = ("proc", "sys", "dev")
INSTRUCTIONS = ("CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "USER", "WORKDIR", "VOLUME",
                "STOPSIGNAL", "ONBUILD")


def _json_or_shell(arg: str) -> list[str]:
    """``["a", "b"]`` (exec form) or ``a b`` (shell form → ``/bin/sh -c``)."""
    if arg.startswith("["):
        try:
            v = json.loads(arg)
        except ValueError:
            v = None
        if isinstance(v, list) and all(isinstance(x, str) for x in v):
            return v
    return ["/bin/sh", "-c", arg]


def _pairs(arg: str, what: str) -> dict[str, str]:
    """``k=v k2="v 2"`` or the legacy ``k v`` form."""
    try:
        words = shlex.split(arg)
    except ValueError as exc:
        raise InvalidParameter(f"{what}: {exc}") from exc
    if words and "=" not in words[0]:
        if len(words) < 2:
            raise InvalidParameter(f"{what} must have two arguments")
        return {words[0]: arg.split(None, 1)[1].strip()}
    out = {}
    for w in words:
        k, sep, v = w.partition("=")
        if not sep or not k:
            raise InvalidParameter(f"{what} names can not be blank: {w!r}")
        out[k] = v
    return out


def apply_changes(config: dict[str, Any], changes: list[str]) -> dict[str, Any]:
    """A copy of the image ``config`` with Dockerfile instructions applied."""
    cfg = copy.deepcopy(config)
    for raw in changes:
        for line in raw.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            word, _, arg = line.partition(" ")
            cmd, arg = word.upper(), arg.strip()
            if cmd not in INSTRUCTIONS:
                raise InvalidParameter(f"{word} is not a valid change command")
            if not arg:
                raise InvalidParameter(f"{cmd} requires at least one argument")
            if cmd == "CMD":
                cfg["Cmd"] = _json_or_shell(arg)
            elif cmd == "ENTRYPOINT":
                cfg["Entrypoint"] = _json_or_shell(arg)
            elif cmd == "ENV":
                env = {k: v for k, _, v in (e.partition("=") for e in cfg.get("Env") or [])}
                env.update(_pairs(arg, "ENV"))
                cfg["Env"] = [f"{k}={v}" for k, v in env.items()]
            elif cmd == "LABEL":
                cfg["Labels"] = {**(cfg.get("Labels") or {}), **_pairs(arg, "LABEL")}
            elif cmd == "EXPOSE":
                ports = dict(cfg.get("ExposedPorts") or {})
                for p in arg.split():
                    ports[p if "/" in p else f"{p}/tcp"] = {}
                cfg["ExposedPorts"] = ports
            elif cmd == "USER":
                cfg["User"] = arg
            elif cmd == "WORKDIR":
                cfg["WorkingDir"] = os.path.join(cfg.get("WorkingDir") or "/", arg)
            elif cmd == "VOLUME":
                vols = _json_or_shell(arg) if arg.startswith("[") else arg.split()
                cfg["Volumes"] = {**(cfg.get("Volumes") or {}), **{v: {} for v in vols}}
            elif cmd == "STOPSIGNAL":
                cfg["StopSignal"] = arg
            else:  # ONBUILD
                cfg["OnBuild"] = [*(cfg.get("OnBuild") or []), arg]
    return cfg


def _drop_stubs(layer: str) -> None:
    for rel in STUB_FILES:
        path = os.path.join(layer, rel)
        if os.path.isfile(path) and not os.path.islink(path) and os.path.getsize(path) == 0:
            os.unlink(path)
    for rel in STUB_DIRS:
        path = os.path.join(layer, rel)
        if os.path.isdir(path) and not os.path.islink(path) and not os.listdir(path):
            os.rmdir(path)


def commit_layer(images: Any, upper: str) -> tuple[str, int, bool]:
    """The upper dir as a layer dir of the store: (dir, size, newly made)."""
    work = tempfile.mkdtemp(prefix="commit-", dir=images.tmp_dir)
    try:
        tar1 = os.path.join(work, "upper.tar")
        with open(tar1, "wb") as f:
            archive.write_layer_tar(upper, f)
        tree = os.path.join(work, "layer")
        os.mkdir(tree, 0o755)
        with open(tar1, "rb") as f:
            archive.extract_layer(f, tree)
        _drop_stubs(tree)
        tar2 = os.path.join(work, "layer.tar")
        h = hashlib.sha256()
        with open(tar2, "wb") as f:
            archive.write_layer_tar(tree, f)
        with open(tar2, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        size = os.path.getsize(tar2)
        layer = os.path.join(images.layers_dir, h.hexdigest())
        with images._lock:
            if os.path.isdir(layer):
                return layer, size, False
            os.rename(tree, layer)
        return layer, size, True
    except OSError as exc:
        raise SystemFailure(f"committing {upper}: {exc}") from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)


def register(images: Any, base: Image, layer: str, size: int, config: dict[str, Any],
             tags: list[str], meta: dict[str, str]) -> Image:
    """Record the committed image; ``meta``: created, author, comment, container."""
    layers = [*base.layers, layer]
    doc = {"architecture": "amd64", "os": "linux", "config": config,
           "created": meta["created"], "author": meta.get("author", ""),
           "comment": meta.get("comment", ""), "container": meta.get("container", ""),
           "rootfs": {"type": "layers",
                      "diff_ids": [f"sha256:{os.path.basename(x)}" for x in layers]}}
    blob = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    image = archive._register(images, blob, doc, layers, base.size + size, tags)
    if (image.comment, image.author, image.parent) != (
            meta.get("comment", ""), meta.get("author", ""), base.id):
        image.comment, image.author = meta.get("comment", ""), meta.get("author", "")
        image.parent = base.id
        images.store.put(KIND, image.id, to_dict(image))
    return image
