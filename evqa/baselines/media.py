"""Encoding frames for remote APIs (JPEG bytes / base64 data URLs) — shared by the API adapters."""

from __future__ import annotations

import base64

import numpy as np

from evqa.errors import InputError


def encode_jpeg(image: np.ndarray, quality: int = 90) -> bytes:
    """JPEG bytes of one uint8 [H, W, 3] RGB image."""
    import cv2

    ok, buf = cv2.imencode(
        ".jpg", np.ascontiguousarray(image[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    if not ok:
        raise InputError(f"cannot JPEG-encode an image of shape {image.shape}", field="frames")
    return buf.tobytes()


def jpeg_data_url(image: np.ndarray, quality: int = 90) -> str:
    """'data:image/jpeg;base64,...' for one uint8 [H, W, 3] RGB image (OpenAI image_url parts)."""
    return "data:image/jpeg;base64," + base64.b64encode(encode_jpeg(image, quality)).decode("ascii")


VIDEO_MIME_TYPES = {
    ".mp4": "video/mp4",
    ".mov": "video/quicktime",
    ".webm": "video/webm",
    ".avi": "video/x-msvideo",
    ".mkv": "video/x-matroska",
    ".mpeg": "video/mpeg",
    ".mpg": "video/mpeg",
}


def video_mime_type(path: str) -> str:
    """MIME type of a video file from its extension (default video/mp4)."""
    import os

    return VIDEO_MIME_TYPES.get(os.path.splitext(path)[1].lower(), "video/mp4")
