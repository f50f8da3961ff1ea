"""The one exception tree of cove.

Every error cove raises on purpose is a :class:`CoveError`; each class carries the HTTP
status the API answers with. Foreign errors (netlink errno, ``nft`` stderr, a runtime's
exit status) are translated at the kernel/runtime boundary with ``raise ... from exc``.
Only ``cove.api`` turns these into HTTP responses.
"""

from __future__ import annotations


class CoveError(Exception):
    """Base of every cove error. ``status`` is the HTTP status the API answers with."""

    status: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidParameter(CoveError):
    """Bad input: nothing was changed."""

    status = 400


class Forbidden(CoveError):
    """The operation is not allowed on this object (e.g. deleting a predefined network)."""

    status = 403


class NotFound(CoveError):
    """The named object does not exist."""

    status = 404


class Conflict(CoveError):
    """The operation conflicts with the object's state (name in use, still running...)."""

    status = 409


class NotModified(CoveError):
    """Nothing to do: the object is already in the asked state."""

    status = 304


class Unsupported(CoveError):
    """cove does not implement this."""

    status = 501


class Unavailable(CoveError):
    """A needed service is not there (e.g. not part of a swarm)."""

    status = 503


class SystemFailure(CoveError):
    """The kernel, a runtime or the host failed us."""

    status = 500


class KernelError(SystemFailure):
    """A netlink, netns, mount or nftables operation failed."""


class RuntimeFailure(SystemFailure):
    """An execution driver failed to create, start or control a container."""
