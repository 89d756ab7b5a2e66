"""Report photos as files: each upload is checked to be a real image (JPEG, PNG, WebP, GIF), turned
upright by its EXIF orientation, shrunk to at most 1600 px on its longer side and saved again as JPEG —
which drops the EXIF block, GPS position included (PIPL: collect little) — then written once under the
upload folder, named by the SHA-256 of the stored bytes (`gridreports/ab/abcd….jpg`). The same photo
sent twice is one file; a file is written before the database commits, so a rolled-back report can
leave an unreferenced file behind (harmless: nothing serves a file no photo row names)."""

from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from flask_babel import lazy_gettext as _l
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import PhotoInvalid

MAX_UPLOAD_BYTES = 10 * 1024 * 1024  # a phone camera's photo is 2–6 MB
MAX_PIXELS = 50_000_000  # beyond this an image is a decompression bomb, not a photo
LONG_SIDE = 1600
QUALITY = 82
FORMATS = {"JPEG", "PNG", "WEBP", "GIF", "MPO"}
SUBDIR = "gridreports"


@dataclass(frozen=True)
class StoredPhoto:
    sha256: str
    width: int
    height: int
    size_bytes: int


def photo_path(upload_dir: str | os.PathLike, sha256: str) -> Path:
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ValueError("not a SHA-256 hex digest")
    return Path(upload_dir) / SUBDIR / sha256[:2] / f"{sha256}.jpg"


def prepare_photo(data: bytes) -> tuple[bytes, int, int]:
    """The JPEG bytes to store and their size in pixels; PhotoInvalid when `data` is no usable photo."""
    if not data:
        raise PhotoInvalid(str(_l("A photo file is empty. Choose the photo again.")), "photos")
    if len(data) > MAX_UPLOAD_BYTES:
        raise PhotoInvalid(str(_l("A photo may be at most 10 MB. Choose a smaller one.")), "photos")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(BytesIO(data)) as probe:
                if probe.format not in FORMATS:
                    raise PhotoInvalid(str(_l("Send photos as JPEG, PNG or WebP images.")), "photos")
                if probe.width * probe.height > MAX_PIXELS:
                    raise PhotoInvalid(str(_l("A photo has too many pixels. Choose a smaller one.")), "photos")
                probe.verify()
            with Image.open(BytesIO(data)) as img:
                img.seek(0)
                upright = ImageOps.exif_transpose(img) or img
                rgb = upright.convert("RGB")
                rgb.thumbnail((LONG_SIDE, LONG_SIDE))
                out = BytesIO()
                rgb.save(out, format="JPEG", quality=QUALITY, optimize=True)
                return out.getvalue(), rgb.width, rgb.height
    except PhotoInvalid:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError, Warning):
        raise PhotoInvalid(
            str(_l("A file is not a photo we can read. Send JPEG, PNG or WebP images.")), "photos"
        ) from None


def store_photo(upload_dir: str | os.PathLike, data: bytes) -> StoredPhoto:
    """Check, shrink and write one photo (once per content); returns what the photo row keeps."""
    stored, width, height = prepare_photo(data)
    digest = hashlib.sha256(stored).hexdigest()
    path = photo_path(upload_dir, digest)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(stored)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)  # atomic: a reader never sees half a file
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
    return StoredPhoto(digest, width, height, len(stored))


def upload_dir() -> str:
    """Where report photos are stored: UPLOAD_DIR, else the instance folder's uploads/."""
    from flask import current_app

    return current_app.config.get("UPLOAD_DIR") or os.path.join(current_app.instance_path, "uploads")
