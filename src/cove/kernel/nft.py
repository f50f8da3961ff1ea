"""nftables: run a script as one atomic transaction, list and delete tables.

Scripts go through libnftables (``libnftables.so.1``) via ctypes: no process per change,
and one ``nft_run_cmd_from_buffer`` call is one kernel transaction. When the library is
missing, ``nft -f -`` is used instead (also one transaction). Errors become
:class:`cove.errors.KernelError` carrying nft's own message.

The libnftables context is created per call: it opens its netlink socket in the calling
thread's network namespace, so this works from threads that joined another namespace.
"""

from __future__ import annotations

import ctypes
import json
import subprocess
import threading

from cove.errors import KernelError

_NFT_CTX_DEFAULT = 0
_NFT_CTX_OUTPUT_JSON = 1 << 4

_lib: ctypes.CDLL | None = None
_lib_lock = threading.Lock()
_lib_tried = False


def _load() -> ctypes.CDLL | None:
    global _lib, _lib_tried
    with _lib_lock:
        if not _lib_tried:
            _lib_tried = True
            try:
                lib = ctypes.CDLL("libnftables.so.1", use_errno=True)
            except OSError:
                return None
            lib.nft_ctx_new.restype = ctypes.c_void_p
            lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
            lib.nft_ctx_free.argtypes = [ctypes.c_void_p]
            lib.nft_ctx_buffer_output.argtypes = [ctypes.c_void_p]
            lib.nft_ctx_buffer_error.argtypes = [ctypes.c_void_p]
            lib.nft_ctx_get_output_buffer.restype = ctypes.c_char_p
            lib.nft_ctx_get_output_buffer.argtypes = [ctypes.c_void_p]
            lib.nft_ctx_get_error_buffer.restype = ctypes.c_char_p
            lib.nft_ctx_get_error_buffer.argtypes = [ctypes.c_void_p]
            lib.nft_ctx_output_set_flags.argtypes = [ctypes.c_void_p, ctypes.c_uint]
            lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
            lib.nft_run_cmd_from_buffer.restype = ctypes.c_int
            _lib = lib
        return _lib


def _run_lib(lib: ctypes.CDLL, script: str, json_out: bool) -> tuple[int, str, str]:
    ctx = lib.nft_ctx_new(_NFT_CTX_DEFAULT)
    if not ctx:
        raise KernelError("nft: cannot create a libnftables context")
    try:
        lib.nft_ctx_buffer_output(ctx)
        lib.nft_ctx_buffer_error(ctx)
        if json_out:
            lib.nft_ctx_output_set_flags(ctx, _NFT_CTX_OUTPUT_JSON)
        rc = lib.nft_run_cmd_from_buffer(ctx, script.encode())
        out = (lib.nft_ctx_get_output_buffer(ctx) or b"").decode(errors="replace")
        err = (lib.nft_ctx_get_error_buffer(ctx) or b"").decode(errors="replace")
        return rc, out, err
    finally:
        lib.nft_ctx_free(ctx)


def _run_cli(script: str, json_out: bool) -> tuple[int, str, str]:
    args = ["nft", "-j", "-f", "-"] if json_out else ["nft", "-f", "-"]
    try:
        p = subprocess.run(args, input=script, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise KernelError(f"nft: cannot run nft: {exc}") from exc
    return p.returncode, p.stdout, p.stderr


def _run(script: str, json_out: bool = False) -> tuple[int, str, str]:
    lib = _load()
    if lib is not None:
        return _run_lib(lib, script, json_out)
    return _run_cli(script, json_out)


def run(script: str, what: str = "apply nftables rules") -> str:
    """Run ``script`` (nft syntax, several commands) as ONE atomic transaction.

    Returns nft's output. Raises KernelError with nft's error text on failure; then the
    kernel state is unchanged.
    """
    rc, out, err = _run(script)
    if rc != 0:
        msg = err.strip() or "nft failed without a message"
        raise KernelError(f"cannot {what}: {msg}")
    return out


def list_table(family: str, name: str, as_json: bool = False) -> str | dict | None:
    """The table as nft text (or parsed JSON); None when it does not exist."""
    rc, out, err = _run(f"list table {family} {name}", json_out=as_json)
    if rc != 0:
        if "No such file or directory" in err:
            return None
        raise KernelError(f"cannot list table {family} {name}: {err.strip()}")
    return json.loads(out) if as_json else out


def delete_table(family: str, name: str) -> None:
    """Delete a table; a missing table is not an error."""
    run(f"add table {family} {name}\ndelete table {family} {name}\n",
        what=f"delete table {family} {name}")
