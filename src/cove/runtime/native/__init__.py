"""cove.runtime.native: containers from Python with namespaces, overlayfs and pivot_root.

Import :class:`NativeDriver` from :mod:`cove.runtime.native.driver`; this package's
``__init__`` stays empty so the spawner imports nothing it does not need.
"""
