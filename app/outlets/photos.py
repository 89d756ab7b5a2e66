"""Catalogue item photos: an upload is checked and resized with Pillow to one JPEG (metadata such as
a phone's GPS position dropped), stored under a name made from its content, and served at a URL
that never changes meaning (a new photo is a new name), so browsers may keep it for a year
(`immutable`) and revalidate by ETag. The item row holds only the stored name (Item.photo)."""

from __future__ import annotations

import hashlib
import io
import os
import re
import warnings
from pathlib import Path

from flask import Flask, Response, abort, current_app, request
from flask_babel import gettext as _
from flask_login import login_required
from PIL import Image, ImageOps, UnidentifiedImageError

from app.errors import ValidationFailed

MAX_UPLOAD_BYTES = 8 * 1024 * 1024  # a phone's photo is 2–6 MB
MAX_PIXELS = 40_000_000  # refuse decompression bombs before decoding
SIDE = 800  # the longest side kept: enough for a counter screen and a phone
FORMATS = ("JPEG", "PNG", "WEBP", "GIF")
NAME = re.compile(r"^[0-9a-f]{32}\.jpg$")
YEAR = 365 * 86400


def photo_dir(app: Flask | None = None) -> Path:
    """Where photos live: OUTLET_PHOTO_DIR, or instance/outlet-photos beside the app."""
    app = app or current_app
    path = Path(app.config.get("OUTLET_PHOTO_DIR") or os.path.join(app.instance_path, "outlet-photos"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def _refuse(message: str) -> ValidationFailed:
    return ValidationFailed(message, field="photo")


def resize(content: bytes) -> bytes:
    """The upload as a JPEG at most SIDE pixels on its longest side, upright, without metadata."""
    if not content:
        raise _refuse(_("The photo file is empty: choose the photo again."))
    if len(content) > MAX_UPLOAD_BYTES:
        raise _refuse(_("The photo is larger than 8 MB: take it at a lower resolution or choose a smaller one."))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img: Image.Image = Image.open(io.BytesIO(content))
            if img.format not in FORMATS:
                raise _refuse(_("Upload a photo as JPEG, PNG, WebP or GIF."))
            if img.width * img.height > MAX_PIXELS:
                raise _refuse(_("The photo has too many pixels: choose a smaller one."))
            img.load()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise _refuse(_("This file is not a photo we can read: upload a JPEG or PNG.")) from None
    img = ImageOps.exif_transpose(img) or img
    if img.mode in ("RGBA", "LA", "P"):
        img = img.convert("RGBA")
        white = Image.new("RGB", img.size, (255, 255, 255))
        white.paste(img, mask=img.split()[-1])
        img = white
    elif img.mode != "RGB":
        img = img.convert("RGB")
    img.thumbnail((SIDE, SIDE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    img.save(out, "JPEG", quality=82, optimize=True, progressive=True)  # no exif= : metadata left out
    return out.getvalue()


def store_photo(content: bytes) -> str:
    """Resize and store an upload; returns its stored name (the same photo twice is one file)."""
    data = resize(content)
    name = hashlib.sha256(data).hexdigest()[:32] + ".jpg"
    target = photo_dir() / name
    if not target.exists():
        tmp = target.with_suffix(".part")
        tmp.write_bytes(data)
        os.replace(tmp, target)  # never a half-written file under the final name
    return name


@login_required
def serve_photo(name: str):
    """GET /outlets/photos/<name>: the stored JPEG. The name is the content's digest, so the ETag is
    the name and the response may be cached for a year without asking again."""
    if not NAME.match(name):
        abort(404)
    path = photo_dir() / name
    if not path.is_file():
        abort(404)
    etag = name.removesuffix(".jpg")
    if request.if_none_match and etag in request.if_none_match:
        resp = Response(status=304)
    else:
        resp = Response(path.read_bytes(), mimetype="image/jpeg")
    resp.set_etag(etag)
    # private: served to signed-in users only; immutable: a changed photo gets a new name.
    resp.headers["Cache-Control"] = f"private, max-age={YEAR}, immutable"
    return resp
