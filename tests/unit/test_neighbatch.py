"""The rtnetlink encoding of static neighbour and FDB requests (no kernel needed)."""

from __future__ import annotations

import struct

from cove.kernel.neighbatch import NTF_SELF, NUD_PERMANENT, encode_fdb, encode_neigh


def test_neighbour_request_layout():
    mtype, flags, body = encode_neigh(7, "10.0.0.3", "02:42:0a:00:00:03")
    assert (mtype, flags) == (28, 0x400 | 0x100)             # NEWNEIGH, CREATE|REPLACE
    assert struct.unpack_from("=BBHiHBB", body) == (2, 0, 0, 7, NUD_PERMANENT, 0, 0)
    # NDA_DST (len 8, type 1) then NDA_LLADDR (len 10, type 2, padded to 12)
    assert body[12:20] == struct.pack("=HH", 8, 1) + bytes([10, 0, 0, 3])
    assert body[20:30] == struct.pack("=HH", 10, 2) + bytes.fromhex("02420a000003")
    assert len(body) == 32
    assert encode_neigh(7, "10.0.0.3", "02:42:0a:00:00:03", delete=True)[:2] == (29, 0)


def test_fdb_request_layout():
    mtype, _flags, body = encode_fdb(9, "02:42:0a:00:00:03", "192.0.2.2")
    assert mtype == 28
    assert struct.unpack_from("=BBHiHBB", body) == (7, 0, 0, 9, NUD_PERMANENT, NTF_SELF, 0)
    assert body[12:22] == struct.pack("=HH", 10, 2) + bytes.fromhex("02420a000003")
    assert body[24:32] == struct.pack("=HH", 8, 1) + bytes([192, 0, 2, 2])
