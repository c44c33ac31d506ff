"""Small but valid media files, made in code: what the fake Meshy and fake Luma serve.

* :func:`glb`: a glTF 2.0 binary (``glTF`` header, a JSON chunk and a BIN chunk) holding one
  triangle: a mesh, its accessors and buffer views, a node and a scene, as the glTF 2.0
  specification's "minimal" sample.
* :func:`png`: an RGB PNG (signature, IHDR, zlib-compressed IDAT, IEND, CRCs).
* :func:`usdz`: a USDZ package: an uncompressed zip whose first file is a ``.usda`` layer,
  each file's data 64-byte aligned (the USDZ rule), written with :mod:`zipfile`.
* :func:`mp4`: an ISO base media file (``ftyp``, ``moov`` with ``mvhd`` and one video
  ``trak`` whose sample table points into ``mdat``) for a one-second, one-frame clip. The
  frame is an opaque sample: the box structure is complete and parses, playback is not the
  point.

Standard library only, so the fake servers and the tests can both import it.
"""

from __future__ import annotations

import io
import json
import struct
import zipfile
import zlib


# --- glTF binary --------------------------------------------------------------------------
def glb(name: str = "generated") -> bytes:
    positions = struct.pack("<9f", 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
    indices = struct.pack("<3H", 0, 1, 2) + b"\x00\x00"  # padded to 4 bytes
    binary = indices + positions
    document = {
        "asset": {"version": "2.0", "generator": "devstack fake meshy"},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0, "name": name[:60]}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 1}, "indices": 0}]}],
        "buffers": [{"byteLength": len(binary)}],
        "bufferViews": [
            {"buffer": 0, "byteOffset": 0, "byteLength": 6, "target": 34963},
            {"buffer": 0, "byteOffset": 8, "byteLength": 36, "target": 34962},
        ],
        "accessors": [
            {"bufferView": 0, "byteOffset": 0, "componentType": 5123, "count": 3,
             "type": "SCALAR", "max": [2], "min": [0]},
            {"bufferView": 1, "byteOffset": 0, "componentType": 5126, "count": 3,
             "type": "VEC3", "max": [1.0, 1.0, 0.0], "min": [0.0, 0.0, 0.0]},
        ],
    }  # fmt: skip
    text = json.dumps(document, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 4)
    binary += b"\x00" * (-len(binary) % 4)
    chunks = struct.pack("<I4s", len(text), b"JSON") + text
    chunks += struct.pack("<I4s", len(binary), b"BIN\x00") + binary
    return struct.pack("<4sII", b"glTF", 2, 12 + len(chunks)) + chunks


# --- PNG ----------------------------------------------------------------------------------
def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(width: int = 16, height: int = 16, rgb: tuple[int, int, int] = (90, 120, 200)) -> bytes:
    row = b"\x00" + bytes(rgb) * width  # filter type 0 per scanline
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(row * height))
        + _png_chunk(b"IEND", b"")
    )


# --- USDZ ---------------------------------------------------------------------------------
def usdz(name: str = "generated") -> bytes:
    layer = (
        '#usda 1.0\n(\n    defaultPrim = "Model"\n    upAxis = "Y"\n)\n\n'
        'def Mesh "Model"\n{\n'
        "    int[] faceVertexCounts = [3]\n"
        "    int[] faceVertexIndices = [0, 1, 2]\n"
        "    point3f[] points = [(0, 0, 0), (1, 0, 0), (0, 1, 0)]\n"
        f'    custom string name = "{name[:60].replace(chr(34), "")}"\n'
        "}\n"
    ).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        info = zipfile.ZipInfo("model.usda", date_time=(2026, 1, 1, 0, 0, 0))
        # local header = 30 bytes + name + extra: pad the extra field so the data starts on
        # a 64-byte boundary
        used = 30 + len(info.filename)
        pad = -(used + 4) % 64
        info.extra = struct.pack("<HH", 0x1986, pad) + b"\x00" * pad
        archive.writestr(info, layer)
    return out.getvalue()


# --- MP4 ----------------------------------------------------------------------------------
def _box(kind: bytes, *payload: bytes) -> bytes:
    body = b"".join(payload)
    return struct.pack(">I4s", 8 + len(body), kind) + body


def _full(kind: bytes, version: int, flags: int, *payload: bytes) -> bytes:
    return _box(kind, struct.pack(">I", (version << 24) | flags), *payload)


_MATRIX = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)


def mp4(width: int = 64, height: int = 36, frame: bytes | None = None) -> bytes:
    """A one-frame, one-second MP4 (brand isom). ``frame`` is the sample's bytes."""
    sample = frame or b"\x00\x00\x00\x10fake-frame-data!"
    timescale, duration = 1000, 1000
    ftyp = _box(b"ftyp", b"isom", struct.pack(">I", 512), b"isom", b"iso2", b"mp41")
    mvhd = _full(
        b"mvhd", 0, 0,
        struct.pack(">IIII", 0, 0, timescale, duration),
        struct.pack(">IH", 0x10000, 0x0100), b"\x00" * 10, _MATRIX, b"\x00" * 24,
        struct.pack(">I", 2),
    )  # fmt: skip
    tkhd = _full(
        b"tkhd", 0, 3,
        struct.pack(">IIIII", 0, 0, 1, 0, duration), b"\x00" * 8,
        struct.pack(">HHHH", 0, 0, 0, 0), _MATRIX,
        struct.pack(">II", width << 16, height << 16),
    )  # fmt: skip
    mdhd = _full(b"mdhd", 0, 0, struct.pack(">IIIIHH", 0, 0, timescale, duration, 0x55C4, 0))
    hdlr = _full(b"hdlr", 0, 0, struct.pack(">I4s", 0, b"vide"), b"\x00" * 12, b"Video\x00")
    vmhd = _full(b"vmhd", 0, 1, b"\x00" * 8)
    dref = _full(b"dref", 0, 0, struct.pack(">I", 1), _full(b"url ", 0, 1))
    entry = _box(
        b"mp4v",
        b"\x00" * 6, struct.pack(">H", 1), b"\x00" * 16,
        struct.pack(">HHIIIH", width, height, 0x480000, 0x480000, 0, 1),
        b"\x00" * 32, struct.pack(">Hh", 0x18, -1),
    )  # fmt: skip
    stsd = _full(b"stsd", 0, 0, struct.pack(">I", 1), entry)
    stts = _full(b"stts", 0, 0, struct.pack(">III", 1, 1, duration))
    stsc = _full(b"stsc", 0, 0, struct.pack(">IIII", 1, 1, 1, 1))
    stsz = _full(b"stsz", 0, 0, struct.pack(">III", 0, 1, len(sample)))

    def moov(chunk_offset: int) -> bytes:
        stco = _full(b"stco", 0, 0, struct.pack(">II", 1, chunk_offset))
        stbl = _box(b"stbl", stsd, stts, stsc, stsz, stco)
        minf = _box(b"minf", vmhd, _box(b"dinf", dref), stbl)
        trak = _box(b"trak", tkhd, _box(b"mdia", mdhd, hdlr, minf))
        return _box(b"moov", mvhd, trak)

    size_of_moov = len(moov(0))
    offset = len(ftyp) + size_of_moov + 8  # the sample starts right after mdat's header
    return ftyp + moov(offset) + _box(b"mdat", sample)


def mp4_boxes(data: bytes) -> list[str]:
    """The top-level box types of an ISO base media file (raises ValueError if malformed)."""
    kinds, at = [], 0
    while at < len(data):
        if at + 8 > len(data):
            raise ValueError("truncated box header")
        size, kind = struct.unpack(">I4s", data[at : at + 8])
        if size < 8 or at + size > len(data):
            raise ValueError(f"bad box size {size} at {at}")
        kinds.append(kind.decode("latin-1"))
        at += size
    return kinds
