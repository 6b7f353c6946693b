"""FFHQ-style face alignment for video (re-implemented from the NVlabs/ffhq-dataset description in
shared/MODELS.md): a quad from iBUG-68 landmarks, smoothed over time so faces don't jitter,
then each frame is resampled from its quad to a square output."""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy.ndimage import gaussian_filter1d


def ffhq_quad(landmarks: np.ndarray) -> np.ndarray:
    """(68, 2) -> (4, 2) corners [c-x-y, c-x+y, c+x+y, c+x-y] (FFHQ's order)."""
    eye_left, eye_right = landmarks[36:42].mean(0), landmarks[42:48].mean(0)
    eye_avg, eye_to_eye = (eye_left + eye_right) / 2, eye_right - eye_left
    mouth_avg = (landmarks[48] + landmarks[54]) / 2
    eye_to_mouth = mouth_avg - eye_avg
    x = eye_to_eye - np.array([-eye_to_mouth[1], eye_to_mouth[0]])  # eye_to_eye - rot90(eye_to_mouth)
    x = x / np.hypot(*x) * max(np.hypot(*eye_to_eye) * 2.0, np.hypot(*eye_to_mouth) * 1.8)
    y = np.array([-x[1], x[0]])
    c = eye_avg + eye_to_mouth * 0.1
    return np.stack([c - x - y, c - x + y, c + x + y, c + x - y])


def smooth_quads(quads: np.ndarray, found: np.ndarray, sigma_frames: float = 2.0) -> np.ndarray:
    """Gaussian-smooth quad centre and axis over time; frames without a face borrow their neighbours'."""
    t = np.arange(len(quads))
    centre, axis = quads.mean(1), (quads[:, 3] - quads[:, 0]) / 2  # corner 3 - corner 0 = 2x
    params = np.concatenate([centre, axis], 1)
    for k in range(params.shape[1]):
        params[~found, k] = np.interp(t[~found], t[found], params[found, k])
    params = gaussian_filter1d(params, sigma_frames, axis=0, mode="nearest")
    c, x = params[:, :2], params[:, 2:]
    y = np.stack([-x[:, 1], x[:, 0]], 1)
    return np.stack([c - x - y, c - x + y, c + x + y, c + x - y], 1)


def warp_to_square(image: np.ndarray, quad: np.ndarray, size: int) -> np.ndarray:
    """Resample the quad to size x size: shrink first when the quad is much larger (anti-aliasing,
    as FFHQ does), reflect-pad where the quad leaves the image, then a bicubic quad transform."""
    img = Image.fromarray(image)
    quad = quad.astype(np.float64).copy()
    qsize = np.hypot(*(quad[3] - quad[0]))
    shrink = int(np.floor(qsize / size * 0.5))
    if shrink > 1:
        img = img.resize((int(np.rint(img.width / shrink)), int(np.rint(img.height / shrink))), Image.LANCZOS)
        quad /= shrink
    pad_lo = np.maximum(np.ceil(-quad.min(0)), 0).astype(int) + 2
    pad_hi = np.maximum(np.ceil(quad.max(0) - [img.width, img.height]), 0).astype(int) + 2
    array = np.pad(np.asarray(img), ((pad_lo[1], pad_hi[1]), (pad_lo[0], pad_hi[0]), (0, 0)), mode="reflect")
    quad += pad_lo
    out = Image.fromarray(array).transform((size, size), Image.QUAD, tuple((quad + 0.5).flatten()), Image.BICUBIC)
    return np.asarray(out)
