"""The browser tests' fake camera: a picture written as a YUV4MPEG2 (.y4m) file Chromium can play."""

from __future__ import annotations

import pytest
from PIL import Image

from tests.e2e.fake_camera import camera_args, framed, picture_as_camera, write_y4m


def test_a_y4m_file_has_the_header_and_i420_frames(tmp_path):
    white = Image.new("RGB", (8, 4), (255, 255, 255))
    black = Image.new("RGB", (8, 4), (0, 0, 0))
    path = write_y4m([white, black], tmp_path / "v.y4m", fps=5)
    data = path.read_bytes()
    header, rest = data.split(b"\n", 1)
    assert header == b"YUV4MPEG2 W8 H4 F5:1 Ip A1:1 C420jpeg"
    frame = 8 * 4 + 2 * (4 * 2)  # Y, then U and V at half width and height
    assert len(rest) == 2 * (len(b"FRAME\n") + frame)
    first, second = rest[6 : 6 + frame], rest[6 + frame + 6 :]
    assert set(first[:32]) == {235} and set(second[:32]) == {16}  # white and black in limited range
    assert set(first[32:]) == {128}  # no colour


def test_odd_sizes_and_empty_videos_are_refused(tmp_path):
    with pytest.raises(ValueError):
        write_y4m([Image.new("RGB", (7, 4))], tmp_path / "odd.y4m")
    with pytest.raises(ValueError):
        write_y4m([], tmp_path / "none.y4m")


def test_a_phone_screenshot_is_framed_whole_in_a_landscape_camera(tmp_path):
    shot = tmp_path / "phone.png"
    Image.new("RGB", (780, 1688), (255, 0, 0)).save(shot)
    frame = framed(Image.open(shot), 1280, 720)
    assert frame.size == (1280, 720)
    assert frame.getpixel((640, 360)) == (255, 0, 0) and frame.getpixel((5, 5)) != (255, 0, 0)
    video = picture_as_camera(shot, tmp_path / "phone.y4m", seconds=1)
    assert video.read_bytes().startswith(b"YUV4MPEG2 W1280 H720 ")
    assert f"--use-file-for-fake-video-capture={video}" in camera_args(video)
