"""Files uploaded through ``/uploadfile``, kept in memory and served by ``/attachment``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import VendorError

__all__ = ["ALLOWED_TYPES", "MAX_UPLOAD_BYTES", "StoredFile", "UploadStore"]

# The reference: img = {png, jpg}; media = {mp3, mp4, avi}; size <= 50M.
ALLOWED_TYPES = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "mp3": "audio/mpeg",
    "mp4": "video/mp4",
    "avi": "video/x-msvideo",
}
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
DEFAULT_PATH = "/opt/data/resources"


@dataclass(slots=True)
class StoredFile:
    """An uploaded file."""

    path: str
    data: bytes
    media_type: str
    uploaded_at: float
    storage_only_cluster: bool = False


class UploadStore:
    """Uploaded files by server path; 10911 for a type the vendor refuses, 10912 when too big."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._files: dict[str, StoredFile] = {}

    def save(
        self, filename: str, data: bytes, path: str | None, storage_only_cluster: bool = False
    ) -> StoredFile:
        """Store ``data`` as ``<path>/<filename>``."""
        name = filename.replace("\\", "/").rsplit("/", 1)[-1]
        if not name:
            raise VendorError(40002, "arg file required")
        extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
        media_type = ALLOWED_TYPES.get(extension)
        if media_type is None:
            raise VendorError(10911, f"not support file type: {extension}")
        if len(data) > MAX_UPLOAD_BYTES:
            raise VendorError(10912, "file size exceeds 50M")
        directory = (path or DEFAULT_PATH).rstrip("/")
        stored = StoredFile(
            path=f"{directory}/{name}",
            data=data,
            media_type=media_type,
            uploaded_at=self._clock(),
            storage_only_cluster=storage_only_cluster,
        )
        self._files[stored.path] = stored
        return stored

    def get(self, path: str) -> StoredFile | None:
        """The file stored at ``path``."""
        return self._files.get(path)

    def snapshot(self) -> list[dict[str, Any]]:
        """Names and sizes (not contents), for the scenario API's state dump."""
        return [
            {"path": f.path, "size": len(f.data), "media_type": f.media_type}
            for f in self._files.values()
        ]
