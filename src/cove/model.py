"""Helpers shared by the model dataclasses: ids, timestamps, dict round-trips."""

from __future__ import annotations

import dataclasses
import os
from datetime import UTC, datetime
from typing import Any, TypeVar

T = TypeVar("T")


def new_id() -> str:
    """A 64-hex id, as Docker's."""
    return os.urandom(32).hex()


def now_iso() -> str:
    """RFC 3339 UTC time with nanosecond-style precision, as Docker prints it."""
    d = datetime.now(UTC)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond:06d}000Z"


def to_dict(obj: Any) -> dict[str, Any]:
    return dataclasses.asdict(obj)


def from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Build a dataclass from a dict, ignoring unknown keys (forward compatible)."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in data.items() if k in names})
