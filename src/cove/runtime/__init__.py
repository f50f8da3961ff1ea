"""cove.runtime: execution drivers (the libcontainer role) behind one seam.

:func:`get_driver` builds a driver by name; imports are lazy so that the native spawner,
which imports ``cove.runtime.native.*``, stays small.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cove.runtime.base import ExecutionDriver

DRIVERS = ("native", "runc", "crun", "lxc")


def get_driver(name: str, exec_root: str) -> ExecutionDriver:
    """The execution driver called ``name`` ("native", "runc", "crun"; "" means native),
    keeping its state under ``exec_root``. Unknown names raise InvalidParameter."""
    if name in ("", "native"):
        from cove.runtime.native.driver import NativeDriver
        return NativeDriver(exec_root)
    if name in ("runc", "crun"):
        from cove.runtime.oci.driver import OciDriver
        return OciDriver(exec_root, name)  # InvalidParameter when the binary is missing
    if name == "lxc":
        from cove.runtime.lxc.driver import LxcDriver
        return LxcDriver(exec_root)
    from cove.errors import InvalidParameter
    raise InvalidParameter(f"unknown runtime {name!r} (available: {', '.join(DRIVERS)})")
