"""Image references: parse and normalise ``name[:tag]`` the way Docker users write them."""

from __future__ import annotations

import re

from cove.errors import InvalidParameter

_NAME_RE = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
                      r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")
_TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_HEX_RE = re.compile(r"^[0-9a-f]+$")

_DEFAULT_PREFIXES = ("docker.io/library/", "index.docker.io/library/", "docker.io/",
                     "library/")


def split_ref(ref: str) -> tuple[str, str]:
    """``"busybox"`` → ``("busybox", "latest")``; ``"a/b:1.0"`` → ``("a/b", "1.0")``.

    Docker Hub prefixes (``docker.io/library/``) are dropped. Digests are not supported.
    """
    name, tag = ref, "latest"
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    if colon > slash:
        name, tag = ref[:colon], ref[colon + 1:]
    for prefix in _DEFAULT_PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix):]
            break
    return name, tag


def validate_repo_tag(repo: str, tag: str) -> str:
    """Check a repository name and tag; return ``"repo:tag"`` or raise InvalidParameter."""
    if ":" in repo.rsplit("/", 1)[-1]:
        raise InvalidParameter(f"invalid reference format: repository name {repo!r}"
                               " must not contain a tag")
    name, _ = split_ref(repo)
    if not _NAME_RE.match(name) or len(name) > 255:
        raise InvalidParameter(
            f"invalid reference format: repository name ({repo}) must be lowercase")
    if not _TAG_RE.match(tag or ""):
        raise InvalidParameter(f"invalid tag format: {tag!r}")
    return f"{name}:{tag}"


def is_hex(s: str) -> bool:
    return bool(_HEX_RE.match(s))
