"""``docker save`` archives: load them into the image store and write them from it.

Format (Docker's): ``manifest.json`` = ``[{"Config": "<hex>.json", "RepoTags": [...],
"Layers": ["<hex>/layer.tar", ...]}]`` (layers bottom-most first), the config JSON whose
sha256 is the image id and whose ``rootfs.diff_ids`` are the layer tars' sha256.

Layers stay layers: each layer tar is extracted into its own overlayfs lower dir
(``layers/<diff_id hex>/``, shared between images), with the OCI whiteouts turned into
overlayfs's (``.wh.NAME`` → a 0:0 character device, ``.wh..wh..opq`` → the
``trusted.overlay.opaque`` xattr), and back again when saving. Saved layer tars are
deterministic (sorted, numeric owners), so save → load → save gives the same bytes.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import stat
import tarfile
import tempfile
from typing import IO, Any

from cove.engine.model import Image
from cove.errors import InvalidParameter, SystemFailure
from cove.images.extract import extract_rootfs
from cove.images.reference import validate_repo_tag
from cove.model import from_dict, now_iso, to_dict

OPAQUE_XATTR = "trusted.overlay.opaque"
WH_PREFIX = ".wh."
WH_OPAQUE = ".wh..wh..opq"
CHUNK = 1 << 20


def full_config(image: Image, diff_ids: list[str]) -> bytes:
    """The config JSON of ``image`` (as the store's ``_record`` builds it) for layers
    with ``diff_ids``."""
    doc = {"architecture": "amd64", "os": "linux", "config": image.config,
           "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


# -- layer tars from layer dirs ------------------------------------------------------------

def _is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _opaque(path: str) -> bool:
    try:
        return os.getxattr(path, OPAQUE_XATTR, follow_symlinks=False) == b"y"
    except OSError:
        return False


def write_layer_tar(layer_dir: str, out: IO[bytes]) -> None:
    """A deterministic tar of ``layer_dir`` with overlay whiteouts as OCI whiteouts."""
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        inodes: dict[tuple[int, int], str] = {}

        def add(path: str, rel: str) -> None:
            st = os.lstat(path)
            if _is_whiteout(st):
                ti = tarfile.TarInfo(os.path.join(os.path.dirname(rel),
                                                  WH_PREFIX + os.path.basename(rel)))
                ti.mtime = int(st.st_mtime)
                tar.addfile(ti, io.BytesIO(b""))
                return
            if stat.S_ISSOCK(st.st_mode) or stat.S_ISCHR(st.st_mode) or \
                    stat.S_ISBLK(st.st_mode):
                return
            ti = tar.gettarinfo(path, rel)
            ti.uname = ti.gname = ""
            # directory and symlink mtimes are not restored exactly when a layer is
            # extracted: written as 0, so the same layer always gives the same tar
            # (save -> load -> save is stable)
            ti.mtime = 0 if stat.S_ISDIR(st.st_mode) or stat.S_ISLNK(st.st_mode) else \
                int(st.st_mtime)
            ti.pax_headers = {}
            key = (st.st_dev, st.st_ino)
            if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
                if key in inodes:
                    ti.type, ti.linkname, ti.size = tarfile.LNKTYPE, inodes[key], 0
                    tar.addfile(ti)
                    return
                inodes[key] = rel
            if ti.isreg():
                with open(path, "rb") as f:
                    tar.addfile(ti, f)
            else:
                tar.addfile(ti)
            if stat.S_ISDIR(st.st_mode) and _opaque(path):
                wh = tarfile.TarInfo(os.path.join(rel, WH_OPAQUE))
                tar.addfile(wh, io.BytesIO(b""))

        def walk(d: str, rel: str) -> None:
            for name in sorted(os.listdir(d)):
                path = os.path.join(d, name)
                r = f"{rel}/{name}" if rel else name
                add(path, r)
                if os.path.isdir(path) and not os.path.islink(path):
                    walk(path, r)

        walk(layer_dir, "")


# -- whiteouts when extracting -------------------------------------------------------------

def apply_whiteouts(dest: str, names: list[str]) -> None:
    """Turn the OCI whiteout files extracted into ``dest`` into overlayfs whiteouts."""
    for rel in names:
        path = os.path.join(dest, rel)
        parent, base = os.path.split(path)
        if os.path.islink(parent) or not os.path.isdir(parent):
            raise InvalidParameter(f"invalid whiteout {rel!r} in layer")
        os.unlink(path)
        if base == WH_OPAQUE:
            os.setxattr(parent, OPAQUE_XATTR, b"y")
            continue
        target = os.path.join(parent, base[len(WH_PREFIX):])
        if os.path.lexists(target):
            if os.path.isdir(target) and not os.path.islink(target):
                shutil.rmtree(target)
            else:
                os.unlink(target)
        os.mknod(target, stat.S_IFCHR | 0o000, os.makedev(0, 0))


def extract_layer(fileobj: IO[bytes], dest: str) -> int:
    """Extract a layer tar into ``dest`` (safely, see extract_rootfs) with whiteouts."""
    size = extract_rootfs(fileobj, dest)
    found = []
    for root, dirs, files in os.walk(dest):
        for name in files + dirs:
            if name.startswith(WH_PREFIX):
                found.append(os.path.relpath(os.path.join(root, name), dest))
    apply_whiteouts(dest, sorted(found, key=lambda p: (p.count("/"), p)))
    return size


# -- load / save ------------------------------------------------------------------------

def _sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _safe_member(root: str, name: str) -> str:
    path = os.path.normpath(os.path.join(root, name))
    if not path.startswith(root + os.sep) or not os.path.isfile(path) or \
            os.path.islink(path):
        raise InvalidParameter(f"invalid docker archive: missing or unsafe file {name!r}")
    return path


def load(images: Any, source: str) -> list[Image]:
    """Load the ``docker save`` archive at ``source`` into the ImageStore ``images``.
    Returns the loaded images. A failure leaves no new layer dir and no record."""
    work = tempfile.mkdtemp(prefix="load-", dir=images.tmp_dir)
    made: list[str] = []
    try:
        try:
            with tarfile.open(source, mode="r:*") as tar:
                tar.extractall(work, filter="data")
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise InvalidParameter(f"invalid docker archive: {exc}") from exc
        try:
            with open(os.path.join(work, "manifest.json"), "rb") as f:
                manifest = json.load(f)
        except (OSError, ValueError) as exc:
            raise InvalidParameter("invalid docker archive: no readable manifest.json") \
                from exc
        if not isinstance(manifest, list) or not manifest:
            raise InvalidParameter("invalid docker archive: empty manifest.json")
        plans = []
        for entry in manifest:
            if not isinstance(entry, dict) or not isinstance(entry.get("Layers"), list):
                raise InvalidParameter("invalid docker archive: bad manifest entry")
            with open(_safe_member(work, str(entry.get("Config", ""))), "rb") as f:
                blob = f.read()
            try:
                cfg = json.loads(blob)
                diff_ids = list(cfg["rootfs"]["diff_ids"])
            except (ValueError, KeyError, TypeError) as exc:
                raise InvalidParameter("invalid docker archive: bad image config") from exc
            layers = [_safe_member(work, str(p)) for p in entry["Layers"]]
            if len(layers) != len(diff_ids):
                raise InvalidParameter("invalid docker archive: layers do not match the "
                                       "config's diff_ids")
            tags = [validate_repo_tag(*_split_tag(t)) for t in entry.get("RepoTags") or []]
            plans.append((blob, cfg, layers, diff_ids, tags))
        out = []
        for blob, cfg, layers, diff_ids, tags in plans:
            dirs, size = [], 0
            for path, diff_id in zip(layers, diff_ids, strict=True):
                digest = _sha256_file(path)
                if f"sha256:{digest}" != diff_id:
                    raise InvalidParameter(f"invalid docker archive: layer {diff_id} does "
                                           f"not match its content (sha256:{digest})")
                layer = os.path.join(images.layers_dir, digest)
                if not os.path.isdir(layer):
                    tmp = tempfile.mkdtemp(prefix="layer-", dir=images.tmp_dir)
                    try:
                        with open(path, "rb") as f:
                            extract_layer(f, tmp)
                        os.rename(tmp, layer)
                    except BaseException:
                        shutil.rmtree(tmp, ignore_errors=True)
                        raise
                    made.append(layer)
                dirs.append(layer)
                size += os.path.getsize(path)
            out.append(_register(images, blob, cfg, dirs, size, tags))
        return out
    except OSError as exc:
        for layer in made:
            shutil.rmtree(layer, ignore_errors=True)
        raise SystemFailure(f"loading images: {exc}") from exc
    except BaseException:
        for layer in made:
            shutil.rmtree(layer, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _split_tag(ref: str) -> tuple[str, str]:
    slash, colon = ref.rfind("/"), ref.rfind(":")
    return (ref[:colon], ref[colon + 1:]) if colon > slash else (ref, "latest")


def _register(images: Any, blob: bytes, cfg: dict, dirs: list[str], size: int,
              tags: list[str]) -> Image:
    from cove.images.store import KIND
    image_id = "sha256:" + hashlib.sha256(blob).hexdigest()
    with images._lock, images.store.transaction():
        for other in images.list():
            moved = [t for t in other.repo_tags if t in tags]
            if other.id != image_id and moved:
                other.repo_tags = [t for t in other.repo_tags if t not in tags]
                images.store.put(KIND, other.id, to_dict(other))
        existing = images.store.get(KIND, image_id)
        if existing:
            image = from_dict(Image, existing)
            image.repo_tags += [t for t in tags if t not in image.repo_tags]
        else:
            image = Image(id=image_id, repo_tags=list(tags),
                          created=cfg.get("created") or now_iso(), size=size,
                          layers=dirs, config=cfg.get("config") or {})
        images.store.put(KIND, image_id, to_dict(image))
    configs = os.path.join(images.root, "configs")
    os.makedirs(configs, exist_ok=True)
    with open(os.path.join(configs, image_id[7:] + ".json"), "wb") as f:
        f.write(blob)
    return image


def save(images: Any, refs: list[str], out: IO[bytes]) -> None:
    """Write the images named by ``refs`` as a ``docker save`` archive to ``out``."""
    chosen: list[tuple[Image, list[str]]] = []
    for ref in refs:
        image = images.get(ref)
        tags = [t for t in image.repo_tags if ref in (t, t.removesuffix(":latest"))]
        for c, t in chosen:
            if c.id == image.id:
                t += [x for x in tags if x not in t]
                break
        else:
            chosen.append((image, tags))
    work = tempfile.mkdtemp(prefix="save-", dir=images.tmp_dir)
    try:
        manifest = []
        with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            written: set[str] = set()
            for image, tags in chosen:
                names, diff_ids = [], []
                for layer in image.layers:
                    tmp = os.path.join(work, "layer.tar")
                    with open(tmp, "wb") as f:
                        write_layer_tar(layer, f)
                    digest = _sha256_file(tmp)
                    name = f"{digest}/layer.tar"
                    if name not in written:
                        d = tarfile.TarInfo(digest)
                        d.type, d.mode = tarfile.DIRTYPE, 0o755
                        tar.addfile(d)
                        tar.add(tmp, name)
                        written.add(name)
                    os.unlink(tmp)
                    names.append(name)
                    diff_ids.append(f"sha256:{digest}")
                blob = _stored_config(images, image, diff_ids)
                cname = hashlib.sha256(blob).hexdigest() + ".json"
                _add_bytes(tar, cname, blob)
                manifest.append({"Config": cname, "RepoTags": tags or None,
                                 "Layers": names})
            _add_bytes(tar, "manifest.json", json.dumps(manifest).encode())
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _stored_config(images: Any, image: Image, diff_ids: list[str]) -> bytes:
    """The loaded config blob when its diff_ids still match, else a fresh one."""
    path = os.path.join(images.root, "configs", image.id[7:] + ".json")
    try:
        with open(path, "rb") as f:
            blob = f.read()
        if json.loads(blob)["rootfs"]["diff_ids"] == diff_ids:
            return blob
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return full_config(image, diff_ids)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    ti = tarfile.TarInfo(name)
    ti.size, ti.mode = len(data), 0o644
    tar.addfile(ti, io.BytesIO(data))
