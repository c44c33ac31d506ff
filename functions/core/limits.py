"""File limits. The same values are check constraints on ``public.files``
(``files_size_within_limit``, ``files_mime_type_allowed``); a test keeps them equal."""

from __future__ import annotations

MAX_FILE_BYTES = 50 * 1024 * 1024

ALLOWED_MIME_TYPES: frozenset[str] = frozenset(
    {
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "image/svg+xml",
        "application/pdf",
        "text/plain",
        "text/markdown",
        "text/csv",
        "application/json",
        "application/zip",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        # generated assets (functions/assets): glTF binary, USDZ, MP4
        "model/gltf-binary",
        "model/vnd.usdz+zip",
        "video/mp4",
    }
)

# Leading bytes of binary types; an object whose bytes contradict its declared type fails.
MAGIC_PREFIXES: dict[str, tuple[bytes, ...]] = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "application/pdf": (b"%PDF-",),
    "application/zip": (b"PK\x03\x04", b"PK\x05\x06"),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (b"PK\x03\x04",),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": (b"PK\x03\x04",),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": (b"PK\x03\x04",),
    "model/gltf-binary": (b"glTF",),
    "model/vnd.usdz+zip": (b"PK\x03\x04",),
}


def content_matches_type(mime_type: str, head: bytes) -> bool:
    prefixes = MAGIC_PREFIXES.get(mime_type)
    if prefixes is None:
        return True
    return head.startswith(prefixes)
