"""cove.runtime.oci: containers under an OCI runtime (runc, crun). So far: the pure
``config.json`` renderer (:mod:`cove.runtime.oci.spec`); the driver is still to come."""
