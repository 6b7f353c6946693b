"""LSE-C / LSE-D: lip-sync confidence and distance from SyncNet, as Wav2Lip's evaluation reports them.

Per clip: lip features of every 5-frame window and audio features of the matching 20 MFCC
steps (13 coefficients, 100 Hz, python_speech_features defaults); for each offset in +-15
frames the mean distance between lip window t and audio window t + offset; LSE-D = the minimum
over offsets, LSE-C = median - minimum, AV offset = 15 - argmin. Unlike the public pipeline,
whose face tracker drops tracks under 100 frames (every GRID clip), the clip's frames are
scored directly: each frame is cropped around its landmark face box with the official crop
geometry (box half-size bs, margin 0.4) and resized to 224x224 BGR.

Variants `lse-c-syncnet-python` / `lse-d-syncnet-python` follow the public pipeline instead, so
numbers can be matched with papers that ran it (metrics/lse_syncnet_python.py lists what is
reproduced and what deviates): its tracker, smoothed crop, 16-bit-scale 16 kHz MFCC and windows.
Where its tracker would drop the clip (a track of 100 frames or fewer, as every GRID clip), the
clip fails with that reason instead of scoring nothing silently. Both refuse video that is not
25 fps: SyncNet's 4 MFCC steps per frame assume it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from benchmark.core.errors import ClipError
from benchmark.perception.face_geometry import face_box_from_landmarks
from benchmark.perception.registry import get_network
from metrics.base import ClipValue, Metric
from metrics.context import ClipContext, FeatureProvider
from metrics.landmark_metric import LANDMARK_DEFAULTS
from metrics.lse_syncnet_python import FPS as SYNCNET_FPS
from metrics.lse_syncnet_python import PAD_VALUE, WINDOW_FRAMES, int16_audio_16k, track_features

VSHIFT = 15
CROP_MARGIN = 0.4

# the public pipeline's conventions (joonson/syncnet_python run_pipeline.py + SyncNetInstance.py)
SYNCNET_PYTHON: dict = {
    "pipeline": "syncnet_python",
    "min_face_coverage": None,  # not applied: the tracker's own rules decide what is scored
    "face_box": "S3FD-like box from the landmark backend's iBUG-68 points (replaces S3FD, whose weights are not here)",
    "scene_detection": "none: a clip is one shot",
    "crop": "box centre and half-size median-filtered over 13 frames, crop_scale 0.4, pad 110, cv2 bilinear 224, BGR",
    "crop_scale": 0.4,
    "smooth_kernel": 13,
    "mfcc": "python_speech_features defaults (13 coeffs, 100 Hz) on 16 kHz 16-bit-scale samples of the track's span",
    "min_track": 100,
    "num_failed_det": 25,
    "track_iou": 0.5,
    "min_face_size": 100,
    "batch_size": 20,
    "tracks": "mean over the kept face tracks",
    "codec_round_trip": "none (the pipeline's XVID/JPEG re-encoding is not applied)",
}


def offset_distances(lip: torch.Tensor, audio: torch.Tensor, vshift: int = VSHIFT) -> torch.Tensor:
    """(N, D) x (N, D) -> (2 vshift + 1,) mean distance of lip[t] to audio[t + offset - vshift]
    (audio zero-padded at both ends, as syncnet_python's calc_pdist)."""
    padded = F.pad(audio, (0, 0, vshift, vshift))
    windows = torch.stack([padded[i : i + 2 * vshift + 1] for i in range(len(lip))])  # (N, 2v+1, D)
    return (
        F.pairwise_distance(
            lip[:, None, :].expand_as(windows).reshape(-1, lip.shape[1]), windows.reshape(-1, lip.shape[1])
        )
        .view(len(lip), -1)
        .mean(0)
    )


def sync_scores(mdist: torch.Tensor, vshift: int = VSHIFT) -> dict:
    minimum, index = torch.min(mdist, 0)
    return {"lse_d": float(minimum), "lse_c": float(torch.median(mdist) - minimum), "av_offset": int(vshift - index)}


def syncnet_crops(frames: np.ndarray, points: np.ndarray, found: np.ndarray) -> np.ndarray:
    """(T, H, W, 3) RGB -> (T, 224, 224, 3) BGR crops around each frame's face box."""
    from PIL import Image

    crops = np.empty((len(frames), 224, 224, 3), dtype=np.uint8)
    valid = points[found]
    if not len(valid):
        raise ClipError("metric", "lse: no face found in any frame")
    last = None
    for t, frame in enumerate(frames):
        box = points[t] if found[t] else last
        last = box if box is not None else valid[0]
        x0, y0 = last.min(0)
        x1, y1 = last.max(0)
        bs = max(x1 - x0, y1 - y0) / 2
        mx, my = (x0 + x1) / 2, (y0 + y1) / 2
        pad = int(bs * (1 + 2 * CROP_MARGIN))
        padded = np.pad(frame, ((pad, pad), (pad, pad), (0, 0)), constant_values=PAD_VALUE)
        crop = padded[
            int(my + pad - bs) : int(my + pad + bs * (1 + 2 * CROP_MARGIN)),
            int(mx + pad - bs * (1 + CROP_MARGIN)) : int(mx + pad + bs * (1 + CROP_MARGIN)),
        ]
        crops[t] = np.asarray(Image.fromarray(crop).resize((224, 224), Image.BILINEAR))[..., ::-1]
    return crops


@dataclass
class SyncTrack:
    """SyncNet features of one face track: lip and audio embeddings of each 5-frame window."""

    lips: torch.Tensor  # (N, 1024)
    audio: torch.Tensor  # (N, 1024)
    frames: tuple[int, int]  # first and last frame of the track


@dataclass
class SyncWindows:
    """A video's SyncNet features: the scored face tracks, why the others were dropped, its frame count."""

    tracks: list[SyncTrack]
    dropped: list[str]
    n_frames: int


class SyncNetFeatures(FeatureProvider):
    """SyncNet lip and audio features of a video (`SyncWindows`), from faces cropped around the landmark
    backend's boxes: the clip's frames directly (default), or through syncnet_python's tracker and
    smoothed crops (`pipeline="syncnet_python"` with its tracker and crop parameters). In memory only."""

    name = "syncnet"

    @torch.no_grad()
    def compute(
        self, ctx: ClipContext, which: str, landmarks: str, pipeline: str | None = None, **tracker: Any
    ) -> SyncWindows:
        model = get_network("syncnet", ctx.settings.device, ctx.settings.weights_dir).model
        frames, track = ctx.feature("frames", which), ctx.feature("landmarks", which, backend=landmarks)
        samples = int16_audio_16k(ctx.feature("audio"), ctx.clip.sample_rate)  # what SyncNet was trained on
        if pipeline == "syncnet_python":
            return self._syncnet_python(model, frames, track, samples, ctx.settings.device, **tracker)
        crops = syncnet_crops(frames, track.points, track.found)
        lips, audio = track_features(
            model, crops, samples, ctx.settings.device
        )  # the pipeline's windows, batches of 20
        return SyncWindows([SyncTrack(lips, audio, (0, len(frames) - 1))], [], len(frames))

    @staticmethod
    def _syncnet_python(
        model,
        frames,
        track,
        samples,
        device,
        min_track,
        num_failed_det,
        track_iou,
        min_face_size,
        crop_scale,
        smooth_kernel,
        batch_size,
    ) -> SyncWindows:
        from metrics import lse_syncnet_python as sp

        boxes = np.full((len(track.points), 4), np.nan)
        for t in np.flatnonzero(track.found):
            boxes[t] = face_box_from_landmarks(track.points[t])
        faces, dropped = sp.track_faces(boxes, min_track, num_failed_det, track_iou, min_face_size)
        tracks = []
        for face in faces:
            crops = sp.crop_track(frames, face, crop_scale, smooth_kernel)
            lips, audio = sp.track_features(model, crops, sp.track_audio(samples, face), device, batch_size)
            tracks.append(SyncTrack(lips, audio, (int(face.frames[0]), int(face.frames[-1]))))
        return SyncWindows(tracks, dropped, len(boxes))


TRACKER_PARAMS = (
    "min_track",
    "num_failed_det",
    "track_iou",
    "min_face_size",
    "crop_scale",
    "smooth_kernel",
    "batch_size",
)


class _LSE(Metric):
    default_params = {
        **LANDMARK_DEFAULTS,
        "vshift_frames": VSHIFT,
        "window_frames": WINDOW_FRAMES,
        "mfcc": "python_speech_features 13 coeffs 100 Hz on 16 kHz 16-bit-scale samples",
        "windows": "min(frames, samples // 640) - 5",
        "crop": "landmark box, margin 0.4, 224 BGR",
    }
    backend = "SyncNet syncnet_v2.model (user-supplied)"
    features = ("landmarks", "audio", "syncnet")

    @classmethod
    def backend_for(cls, settings, params) -> str:
        syncnet = cls.syncnet_for(settings).version()
        if params.get("pipeline") == "syncnet_python":  # its face boxes come from the landmark backend
            from benchmark.perception.registry import get_landmark_backend

            landmarks = get_landmark_backend(params["landmarks"], settings.device, settings.weights_dir)
            return f"{syncnet}; face boxes from {landmarks.version()}"
        return syncnet

    def syncnet(self):
        return self.syncnet_for(self.settings)

    @staticmethod
    def syncnet_for(settings):
        return get_network("syncnet", settings.device, settings.weights_dir)

    @classmethod
    def check(cls, settings, params) -> None:
        cls.syncnet_for(settings)

    score_key: str  # which of sync_scores' numbers this metric reports

    def score_clip(self, ctx: ClipContext) -> ClipValue:
        scores = self._scores(ctx)
        return ClipValue(
            scores[self.score_key], extras={k: v for k, v in scores.items() if k not in ("lse_c", "lse_d")}
        )

    def feature_params(self) -> dict:
        """What this convention's SyncNet features depend on (lse-c and lse-d of one convention share them)."""
        p = self.params
        if p.get("pipeline") == "syncnet_python":
            return {"landmarks": p["landmarks"], "pipeline": "syncnet_python", **{k: p[k] for k in TRACKER_PARAMS}}
        return {"landmarks": p["landmarks"]}

    def _scores(self, ctx: ClipContext) -> dict:
        require_25_fps(ctx, self.variant)
        windows = ctx.feature("syncnet", "generated", **self.feature_params())
        if self.params.get("pipeline") != "syncnet_python":
            (face,) = windows.tracks
            return sync_scores(offset_distances(face.lips, face.audio))
        if not windows.tracks:
            why = "; ".join(windows.dropped) or "no face was found in any frame"
            raise ClipError(
                "metric",
                f"{self.variant}: syncnet_python's face tracker keeps no track of this "
                f"{windows.n_frames}-frame clip ({why}), so the pipeline would score nothing; "
                f"{self.name} scores short clips (pre-aligned crops, no min_track)",
            )
        vshift, per_track = self.params["vshift_frames"], []
        for face in windows.tracks:
            scores = sync_scores(offset_distances(face.lips, face.audio, vshift), vshift)
            per_track.append({**scores, "frames": list(face.frames), "windows": len(face.lips)})
        return {
            "lse_c": float(np.mean([t["lse_c"] for t in per_track])),
            "lse_d": float(np.mean([t["lse_d"] for t in per_track])),
            "av_offset": per_track[0]["av_offset"],
            "tracks": per_track,
            "dropped_tracks": windows.dropped,
        }


def require_25_fps(ctx: ClipContext, variant: str) -> None:
    """SyncNet pairs 5 frames with 20 MFCC steps (0.2 s) only at 25 fps: other rates are refused, not mis-scored."""
    for what, fps in (("generated video", ctx.generated.fps), ("clip", ctx.clip.fps)):
        if abs(float(fps) - SYNCNET_FPS) > 1e-6:
            raise ClipError(
                "metric",
                f"{variant}: the {what} of {ctx.clip.id} is {float(fps):g} fps, SyncNet needs 25; "
                "convert it first (ffmpeg -i in.mp4 -r 25 out.mp4) or use a 25 fps protocol",
            )


class LSEC(_LSE):
    name = "lse-c"
    direction = "higher"
    score_key = "lse_c"
    variants = {"lse-c-syncnet-python": SYNCNET_PYTHON}
    description = "Lip-sync confidence (SyncNet): median minus minimum of per-offset distances"


class LSED(_LSE):
    name = "lse-d"
    direction = "lower"
    score_key = "lse_d"
    variants = {"lse-d-syncnet-python": SYNCNET_PYTHON}
    description = "Lip-sync distance (SyncNet): minimum over offsets of the mean lip-audio feature distance"
