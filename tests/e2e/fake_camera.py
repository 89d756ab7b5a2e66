"""A picture as a camera: turn a screenshot into a .y4m video that Chromium plays as its webcam.

Chromium's `--use-fake-device-for-media-stream --use-file-for-fake-video-capture=<file>.y4m` serves the
frames of a YUV4MPEG2 file (looped) to `getUserMedia`. The file is written here with Pillow and plain
Python: a text header, then for each frame "FRAME\\n" and the I420 planes (Y at full size, then U and V
at half width and half height), BT.601 limited range as Chromium expects for 4:2:0 ("C420jpeg").
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

CAMERA_ARGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]


def camera_args(y4m: Path) -> list[str]:
    """Chromium switches that make `y4m` the camera (and answer the permission prompt yes)."""
    return [*CAMERA_ARGS, f"--use-file-for-fake-video-capture={y4m}"]


def framed(picture: Image.Image, width: int = 1280, height: int = 720, fill=(200, 200, 200)) -> Image.Image:
    """The picture scaled to fit inside a width x height frame (the camera's size), centred on `fill`,
    like a phone held up in front of a camera."""
    pic = picture.convert("RGB")
    scale = min(width / pic.width, height / pic.height)
    size = (max(2, int(pic.width * scale)), max(2, int(pic.height * scale)))
    pic = pic.resize(size, Image.Resampling.LANCZOS)
    frame = Image.new("RGB", (width, height), fill)
    frame.paste(pic, ((width - size[0]) // 2, (height - size[1]) // 2))
    return frame


def _i420(frame: Image.Image) -> bytes:
    """One frame as I420 bytes: Y plane, then U and V subsampled 2x2 (each by averaging its 4 pixels)."""
    w, h = frame.size
    ycbcr = frame.convert("YCbCr")  # Pillow: JPEG (full-range) BT.601
    y_full, cb_full, cr_full = ycbcr.split()

    def limited(plane: Image.Image, lo: int, span: int) -> Image.Image:
        return plane.point(lambda v: lo + (v * span + 127) // 255)

    y = limited(y_full, 16, 219)  # Y 16..235
    cb = limited(cb_full.resize((w // 2, h // 2), Image.Resampling.BOX), 16, 224)  # chroma 16..240
    cr = limited(cr_full.resize((w // 2, h // 2), Image.Resampling.BOX), 16, 224)
    return y.tobytes() + cb.tobytes() + cr.tobytes()


def write_y4m(frames: list[Image.Image], path: Path, fps: int = 10) -> Path:
    """Write `frames` (same even size) as a YUV4MPEG2 file Chromium's fake camera reads."""
    if not frames:
        raise ValueError("a video needs at least one frame")
    w, h = frames[0].size
    if w % 2 or h % 2:
        raise ValueError(f"I420 needs an even width and height, not {w}x{h}")
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode("ascii"))
        for frame in frames:
            if frame.size != (w, h):
                raise ValueError("every frame must have the same size")
            out.write(b"FRAME\n")
            out.write(_i420(frame))
    return path


def picture_as_camera(picture_png: Path, y4m: Path, *, width: int = 1280, height: int = 720, seconds: int = 1) -> Path:
    """The screenshot at `picture_png` held still in front of the camera for `seconds` (looped by Chromium)."""
    frame = framed(Image.open(picture_png), width, height)
    return write_y4m([frame] * max(1, seconds * 10), y4m, fps=10)
