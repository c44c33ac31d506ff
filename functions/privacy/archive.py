"""A zip archive written straight into an S3 multipart upload.

:class:`MultipartWriter` is a write-only, non-seekable file: bytes collect in one buffer and
leave as a part whenever ``part_size`` is reached, so memory holds at most one part however
large the archive grows. ``zipfile`` writes to an unseekable file with data descriptors
(sizes after each member), which every unzip tool reads.
"""

from __future__ import annotations

import io
from typing import Any

# S3's minimum part size is 5 MiB (all parts but the last); 8 MiB keeps the part count low.
DEFAULT_PART_SIZE = 8 * 1024 * 1024


class MultipartWriter(io.RawIOBase):
    """Writes to one S3 object through a multipart upload with server-side encryption."""

    def __init__(
        self,
        s3: Any,
        bucket: str,
        key: str,
        *,
        content_type: str = "application/zip",
        part_size: int = DEFAULT_PART_SIZE,
        sse: str = "AES256",
        metadata: dict[str, str] | None = None,
    ) -> None:
        super().__init__()
        self._s3 = s3
        self.bucket = bucket
        self.key = key
        self._part_size = part_size
        self._buffer = bytearray()
        self._parts: list[dict[str, Any]] = []
        self._position = 0
        self._upload_id: str = s3.create_multipart_upload(
            Bucket=bucket,
            Key=key,
            ContentType=content_type,
            ServerSideEncryption=sse,
            Metadata=metadata or {},
        )["UploadId"]
        self.peak_buffer = 0

    # -- file protocol ------------------------------------------------------------------
    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def tell(self) -> int:
        return self._position

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self._buffer += view
        self._position += len(view)
        self.peak_buffer = max(self.peak_buffer, len(self._buffer))
        while len(self._buffer) >= self._part_size:
            self._send(self._part_size)
        return len(view)

    # -- parts ----------------------------------------------------------------------------
    def _send(self, size: int) -> None:
        chunk = bytes(self._buffer[:size])
        del self._buffer[:size]
        number = len(self._parts) + 1
        answer = self._s3.upload_part(
            Bucket=self.bucket,
            Key=self.key,
            UploadId=self._upload_id,
            PartNumber=number,
            Body=chunk,
        )
        self._parts.append({"PartNumber": number, "ETag": answer["ETag"]})

    def complete(self) -> int:
        """Send what is left and complete the upload; the object's size in bytes."""
        if self._buffer or not self._parts:
            self._send(len(self._buffer))
        self._s3.complete_multipart_upload(
            Bucket=self.bucket,
            Key=self.key,
            UploadId=self._upload_id,
            MultipartUpload={"Parts": self._parts},
        )
        return self._position

    def abort(self) -> None:
        """Drop the parts sent so far (a failed export leaves no object behind)."""
        try:
            self._s3.abort_multipart_upload(
                Bucket=self.bucket, Key=self.key, UploadId=self._upload_id
            )
        finally:
            self._buffer.clear()
