"""cove.images: the image store (rootfs tarballs as overlayfs layer dirs)."""

from cove.images.store import ImageStore

__all__ = ["ImageStore"]
