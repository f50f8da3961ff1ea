"""The image store: rootfs tarballs imported as overlayfs layer dirs, records in the Store.

Layout under ``<root>/images/``: ``layers/<sha256 of the tar>/`` holds an extracted
rootfs (shared by every image built from the same tarball), ``tmp/`` holds imports in
progress. Image records (kind ``"image"``) live in :class:`cove.store.Store`. The image
id is ``sha256:<hex digest of the config JSON>``; the same tarball imported with the same
config gives the same id.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
from typing import IO, Any

from cove.engine.model import Image
from cove.errors import Conflict, InvalidParameter, NotFound, SystemFailure
from cove.images.extract import extract_rootfs
from cove.images.reference import is_hex, split_ref, validate_repo_tag
from cove.model import from_dict, now_iso, to_dict
from cove.store import Store

KIND = "image"
DEFAULT_CONFIG: dict[str, Any] = {
    "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
    "Cmd": ["sh"],
}


class _HashingReader:
    """Wraps a binary stream; hashes what is read from it."""

    def __init__(self, f: IO[bytes]) -> None:
        self._f = f
        self.sha = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self._f.read(n)
        self.sha.update(data)
        return data

    def drain(self) -> None:
        while self.read(1 << 20):
            pass


class ImageStore:
    """Images under ``<root>/images``, their records in ``store``. Thread-safe."""

    def __init__(self, root: str, store: Store) -> None:
        self.root = os.path.join(root, "images")
        self.layers_dir = os.path.join(self.root, "layers")
        self.tmp_dir = os.path.join(self.root, "tmp")
        self.store = store
        self._lock = threading.RLock()
        os.makedirs(self.layers_dir, exist_ok=True)
        os.makedirs(self.tmp_dir, exist_ok=True)
        self._clean_tmp()

    def _clean_tmp(self) -> None:
        """Imports interrupted by a crash leave dirs in tmp/: remove them."""
        for name in os.listdir(self.tmp_dir):
            shutil.rmtree(os.path.join(self.tmp_dir, name), ignore_errors=True)

    # -- import ------------------------------------------------------------------------

    def import_tarball(self, source: str | IO[bytes], repo: str, tag: str = "latest",
                       config: dict[str, Any] | None = None) -> Image:
        """Import a rootfs tarball (path or binary file object) as ``repo:tag``.

        ``config`` is the Docker image config's ``config`` section (Env, Cmd, ...);
        defaults to a PATH and ``Cmd: ["sh"]``. Moves the tag from any image that had it.
        A failed import leaves no layer dir and no record.
        """
        repo_tag = validate_repo_tag(repo, tag or "latest")
        if isinstance(source, str) and not os.path.isfile(source):
            raise InvalidParameter(f"image tarball {source} does not exist")
        cfg = dict(DEFAULT_CONFIG if config is None else config)

        work = tempfile.mkdtemp(prefix="import-", dir=self.tmp_dir)
        try:
            rootfs = os.path.join(work, "rootfs")
            os.mkdir(rootfs, 0o755)
            if isinstance(source, str):
                with open(source, "rb") as f:
                    reader = _HashingReader(f)
                    size = extract_rootfs(reader, rootfs)  # type: ignore[arg-type]
                    reader.drain()
            else:
                reader = _HashingReader(source)
                size = extract_rootfs(reader, rootfs)  # type: ignore[arg-type]
                reader.drain()
            digest = reader.sha.hexdigest()
            with self._lock:
                layer = os.path.join(self.layers_dir, digest)
                created_layer = False
                if not os.path.isdir(layer):
                    os.rename(rootfs, layer)
                    created_layer = True
                try:
                    image = self._record(digest, layer, size, cfg, repo_tag)
                except BaseException:
                    if created_layer:
                        shutil.rmtree(layer, ignore_errors=True)
                    raise
            return image
        except OSError as exc:
            raise SystemFailure(f"importing image {repo_tag}: {exc}") from exc
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _record(self, digest: str, layer: str, size: int, cfg: dict[str, Any],
                repo_tag: str) -> Image:
        full_config = {
            "architecture": "amd64",
            "os": "linux",
            "config": cfg,
            "rootfs": {"type": "layers", "diff_ids": [f"sha256:{digest}"]},
        }
        blob = json.dumps(full_config, sort_keys=True, separators=(",", ":")).encode()
        image_id = "sha256:" + hashlib.sha256(blob).hexdigest()
        with self.store.transaction():
            for other in self._all():
                if other.id != image_id and repo_tag in other.repo_tags:
                    other.repo_tags.remove(repo_tag)
                    self.store.put(KIND, other.id, to_dict(other))
            existing = self.store.get(KIND, image_id)
            if existing:
                image = from_dict(Image, existing)
                if repo_tag not in image.repo_tags:
                    image.repo_tags.append(repo_tag)
            else:
                image = Image(id=image_id, repo_tags=[repo_tag], created=now_iso(),
                              size=size, layers=[layer], config=cfg)
            self.store.put(KIND, image_id, to_dict(image))
        return image

    # -- lookup ------------------------------------------------------------------------

    def _all(self) -> list[Image]:
        return [from_dict(Image, d) for d in self.store.list(KIND)]

    def list(self) -> list[Image]:
        """Every image, oldest first."""
        return self._all()

    def get(self, ref: str) -> Image:
        """Resolve ``name[:tag]``, a full id, ``sha256:`` prefix or unique short id."""
        if not ref:
            raise NotFound("No such image: ")
        images = self._all()
        if not ref.startswith("sha256:"):
            name, tag = split_ref(ref)
            want = f"{name}:{tag}"
            for image in images:
                if want in image.repo_tags:
                    return image
        hexpart = ref[len("sha256:"):] if ref.startswith("sha256:") else ref
        if hexpart and is_hex(hexpart) and len(hexpart) <= 64:
            matches = [i for i in images if i.id[len("sha256:"):].startswith(hexpart)]
            if len(matches) == 1:
                return matches[0]
        raise NotFound(f"No such image: {ref}")

    # -- removal -----------------------------------------------------------------------

    def remove(self, ref: str, force: bool = False) -> list[dict[str, str]]:
        """Docker's ``rmi``: untag ``name:tag``; delete the image when no tag is left.

        Removing by id an image with several tags needs ``force``. Returns Docker's
        ``[{"Untagged": ...}, {"Deleted": ...}]`` list. The layer dir goes when no other
        image uses it. (Whether containers still use the image is the engine's check.)
        """
        with self._lock:
            image = self.get(ref)
            result: list[dict[str, str]] = []
            name, tag = split_ref(ref)
            by_tag = not ref.startswith("sha256:") and f"{name}:{tag}" in image.repo_tags
            with self.store.transaction():
                if by_tag:
                    image.repo_tags.remove(f"{name}:{tag}")
                    result.append({"Untagged": f"{name}:{tag}"})
                    if image.repo_tags:
                        self.store.put(KIND, image.id, to_dict(image))
                        return result
                else:
                    if len(image.repo_tags) > 1 and not force:
                        raise Conflict(
                            f"conflict: unable to delete {image.id[7:19]} (must be forced)"
                            " - image is referenced in multiple repositories")
                    result.extend({"Untagged": t} for t in image.repo_tags)
                self.store.delete(KIND, image.id)
                result.append({"Deleted": image.id})
            used = {layer for other in self._all() for layer in other.layers}
            for layer in image.layers:
                if layer not in used and os.path.dirname(layer) == self.layers_dir:
                    shutil.rmtree(layer, ignore_errors=True)
            return result
