"""Persistence: the store is the truth; kernel state is derived from it."""

from cove.store.sqlite import Store

__all__ = ["Store"]
