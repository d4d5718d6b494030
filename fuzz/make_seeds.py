#!/usr/bin/env python3
"""Writes the small seed inputs in fuzz/seeds/<target>/ (a few hundred bytes
each): sentences, RTF1/PNG/TIFF frames of 4x3 pixels, and a recording with
one record of each kind. Run from anywhere; it overwrites the seeds."""

import json
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
W, H = 4, 3
PIXELS = [29000 + 50 * i for i in range(W * H)]


def put(target, name, data):
    folder = os.path.join(HERE, "seeds", target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def sentence(body):
    cs = 0
    for b in body.encode():
        cs ^= b
    return f"${body}*{cs:02X}\r\n".encode()


def rtf1():
    head = b"RTF1" + struct.pack("<BBHHHIQQ", 1, 1, W, H, 0, 7, 1_770_000_000_000, 0)
    return head + struct.pack(f"<{W * H}H", *PIXELS)


def png():
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(
        b"\0" + struct.pack(f">{W}H", *PIXELS[r * W:(r + 1) * W]) for r in range(H)
    )
    ihdr = struct.pack(">IIBBBBB", W, H, 16, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


def tiff():
    pixels = struct.pack(f"<{W * H}H", *PIXELS)
    tags = [  # tag, type (3 SHORT, 4 LONG), value
        (256, 3, W), (257, 3, H), (258, 3, 16), (259, 3, 1), (262, 3, 1),
        (273, 4, 8), (277, 3, 1), (278, 3, H), (279, 4, len(pixels)),
    ]
    ifd_at = 8 + len(pixels)
    ifd = struct.pack("<H", len(tags))
    for tag, kind, value in tags:
        ifd += struct.pack("<HHI", tag, kind, 1)
        ifd += struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value)
    ifd += struct.pack("<I", 0)
    return b"II*\0" + struct.pack("<I", ifd_at) + pixels + ifd


def recording():
    header = json.dumps({
        "instance": "fz", "started_ms": 1_770_000_000_000, "id_prefix": "fz-1",
        "rampart_version": "0.1.0",
        "recorded": {"sentences": True, "frames": True, "acks": True},
    }).encode()
    out = b"RAMPREC\0" + struct.pack("<HI", 1, len(header)) + header
    records = [
        (1, "serial:/dev/ttyUSB0", sentence("RPHB,fence-1,1,10,OK")),
        (1, "mqtt:sensor/fence-1", sentence("RPBK,fence-1,2,0,1")),
        (2, "camera:cam-1", rtf1()),
        (3, "mqtt:ack", b'{"id": "fz-1-1", "by": "op"}'),
        (4, "serial:/dev/ttyUSB0", b""),
        (5, "daemon", b""),
    ]
    for i, (kind, label, payload) in enumerate(records):
        body = struct.pack("<qBH", 1_770_000_000_000 + i, kind, len(label)) + label.encode() + payload
        out += struct.pack("<II", len(body), zlib.crc32(body)) + body
    return out


put("sentence", "mixed", b"".join([
    sentence("RPHB,fence-c07,1,3600,OK"),
    sentence("RPFZ,fence-c21,1187,2,412.5,1630"),
    sentence("RPGS,trench-t21,530,1,96"),
    sentence("RPBK,trench-t21,531,0,0"),
    sentence("RPTP,trench-t21,532,ENCLOSURE"),
    sentence("RPHB,fence-c07,2,3601,FAULT,m=" + "0123456789abcdef" * 2),
    b"$RPHB,bad*00\r\n\r\n",
]))
put("sentence", "one", b"\x07" + sentence("RPFZ,fence-1,4294967295,65535,0.25,999999999999"))
put("frame", "rtf1", rtf1())
put("frame", "png", png())
put("frame", "tiff", tiff())
put("record", "all-kinds", recording())
