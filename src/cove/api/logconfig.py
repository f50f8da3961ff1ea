"""``HostConfig.LogConfig`` of ``POST /containers/create``, validated like Docker's
json-file driver (cove's only log driver besides ``none``, which keeps nothing): the type
must be ``json-file`` (or empty, the default) or ``none``, other drivers Docker knows are
501, unknown ones are Docker's "no log driver" error; the options are the json-file ones
with valid values. The result is kept on the container and shown in inspect. (cove's
json-file logs do not rotate yet: ``max-size`` / ``max-file`` are validated and
recorded, not enforced.)"""

from __future__ import annotations

import re
from typing import Any

from cove.errors import InvalidParameter, Unsupported

_DOCKER_DRIVERS = ("local", "syslog", "journald", "gelf", "fluentd", "awslogs",
                   "splunk", "etwlogs", "gcplogs", "logentries")
_JSON_OPTS = ("max-size", "max-file", "compress", "labels", "labels-regex", "env",
              "env-regex", "tag")


def log_config(hc: dict) -> dict[str, Any]:
    """``{"log_config": {"Type": ..., "Config": {...}}}`` for ContainerConfig, or ``{}``."""
    lc = hc.get("LogConfig")
    if lc is None:
        return {}
    if not isinstance(lc, dict):
        raise InvalidParameter("invalid HostConfig.LogConfig: must be an object")
    kind = lc.get("Type") or ""
    cfg = lc.get("Config") or {}
    if not isinstance(kind, str):
        raise InvalidParameter("invalid HostConfig.LogConfig.Type: must be a string")
    if not isinstance(cfg, dict) or not all(isinstance(v, str) for v in cfg.values()):
        raise InvalidParameter("invalid HostConfig.LogConfig.Config: must be an object of "
                               "strings")
    kind = kind or "json-file"
    if kind == "none":  # output discarded, no log file; options ignored as Docker does
        return {"log_config": {"Type": "none", "Config": dict(cfg)}}
    if kind in _DOCKER_DRIVERS:
        raise Unsupported(f"log driver {kind} is not supported by cove (json-file only)")
    if kind != "json-file":
        raise InvalidParameter(f"logger: no log driver named '{kind}' is registered")
    for key, value in cfg.items():
        if key not in _JSON_OPTS:
            raise InvalidParameter(f"unknown log opt '{key}' for json-file log driver")
        if key == "max-file" and (not value.isdigit() or int(value) < 1):
            raise InvalidParameter("max-file cannot be less than 1")
        if key == "max-size" and not re.fullmatch(r"(?i)\d+(\.\d+)?\s*[kmgtp]?i?b?", value):
            raise InvalidParameter(f"invalid size: '{value}'")
        if key == "compress" and value not in ("true", "false", "1", "0"):
            raise InvalidParameter(f"invalid value for compress: {value}")
    return {"log_config": {"Type": kind, "Config": dict(cfg)}}
