"""Head-motion metrics on our landmark pose (metrics/motion/head.py; not comparable with numbers from
Hopenet, FaceXFormer or a 3DMM fit): pose diversity, beat alignment beside its shuffled-audio chance
level, pose L1 against the ground truth (paired) and the pose Fréchet distance (unpaired, over the set).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from metrics.aggregation import Channels, Frechet, Param, Pooled
from metrics.base import ClipValue
from metrics.context import ClipContext
from metrics.landmark_metric import LANDMARK_DEFAULTS
from metrics.motion import head
from metrics.motion.base import NoValue, SideMetric, as_list, covered, fps, pose, track

POSE_DIM = 5  # yaw, pitch, roll (degrees), tx, ty (inter-ocular distances)


class PoseDiversity(SideMetric):
    name = "pose-diversity"
    unit = "deg"
    description = (
        "Head-pose diversity (SadTalker's idea on our landmark pose): std over frames of yaw, pitch and "
        "roll, averaged; more is more motion, not better: closest to the ground truth's"
    )
    features = ("landmarks", "head-pose")
    # the per-frame angles of both sides, for the run page's pose-over-time plot
    channels = Channels(
        value=True, pooled=("clips", "reference_clips", "reference_sum", "sum"), artifacts=("pose", "reference_pose")
    )

    def side_value(self, ctx, which):
        p = pose(ctx, which, self.params)
        value, per_axis = head.pose_diversity(p.angles, track(ctx, which, self.params).found)
        return value, {"std_yaw_pitch_roll": as_list(per_axis)}

    def score_clip(self, ctx: ClipContext) -> ClipValue:
        scored = super().score_clip(ctx)
        scored.artifacts = {
            "pose": pose(ctx, "generated", self.params).angles,
            "reference_pose": pose(ctx, "reference", self.params).angles,
        }
        return scored


class BeatAlign(SideMetric):
    name = "beat-align"
    direction = "higher"
    unit = "0-1"
    description = (
        "Beat alignment (Bailando's formula in seconds, σ 0.05 s): speech onsets against minima of the "
        "head's angular speed, beside the same with the onsets' intervals shuffled (chance level)"
    )
    default_params: ClassVar[dict[str, Any]] = {**LANDMARK_DEFAULTS, "sigma_s": head.BEAT_SIGMA_S, "draws": 100}
    features = ("landmarks", "head-pose", "audio")
    aggregation = Pooled(
        ratios={
            "value": ("sum", "clips"),
            "reference_value": ("reference_sum", "reference_clips"),
            "shuffled_value": ("shuffled_sum", "clips"),
            "reference_shuffled_value": ("reference_shuffled_sum", "reference_clips"),
        }
    )
    channels = Channels(
        value=True,
        pooled=("clips", "reference_clips", "reference_shuffled_sum", "reference_sum", "shuffled_sum", "sum"),
    )

    def side_value(self, ctx, which):
        onsets = head.speech_onsets(ctx.feature("audio"), ctx.clip.sample_rate)
        if onsets.size == 0:
            raise NoValue("no speech onset in the audio")
        p = pose(ctx, which, self.params)
        beats = head.motion_beats(p.angles, fps(ctx), track(ctx, which, self.params).found)
        duration = len(p.angles) / fps(ctx)
        sigma = self.params["sigma_s"]
        shuffled = head.beat_align_shuffled(onsets, beats, duration, draws=self.params["draws"], sigma_s=sigma)
        return head.beat_align(onsets, beats, sigma), {
            "shuffled": shuffled,
            "audio_beats": int(onsets.size),
            "motion_beats": int(beats.size),
        }

    def score_clip(self, ctx: ClipContext) -> ClipValue:
        scored = super().score_clip(ctx)
        for prefix in ("", "reference_"):
            counted = scored.pooled[prefix + "clips"]
            scored.pooled[prefix + "shuffled_sum"] = (
                float(scored.extras.get(prefix + "shuffled", 0.0)) if counted else 0.0
            )
        return scored


class PoseL1(SideMetric):
    name = "pose-l1"
    direction = "lower"
    unit = "deg | IOD"
    description = (
        "Pose L1 (ViCo's PoseL1 on our landmark pose): mean |Δ| of yaw, pitch, roll (deg) and tx, ty "
        "(inter-ocular distances) against the ground truth, frame by frame (paired)"
    )
    features = ("landmarks", "head-pose")

    def side_value(self, ctx, which):
        # paired: each side against the ground truth (the ground truth's own is 0 by definition, computed)
        mine, truth = pose(ctx, which, self.params), pose(ctx, "reference", self.params)
        gen_found, ref_found = track(ctx, which, self.params).found, track(ctx, "reference", self.params).found
        return head.pose_l1(mine.vector(), truth.vector(), gen_found, ref_found), {}


class PoseFD(SideMetric):
    name = "pose-fd"
    direction = "lower"
    unit = "deg² | IOD²"
    description = (
        "Pose Fréchet distance (ViCo's PoseFD on our landmark pose): Gaussians fitted to the per-frame "
        "(yaw, pitch, roll, tx, ty) of all generated and all ground-truth frames (unpaired, the whole set)"
    )
    features = ("landmarks", "head-pose")
    default_params: ClassVar[dict[str, Any]] = {**LANDMARK_DEFAULTS, "min_frames": 2 * POSE_DIM}
    aggregation = Frechet(min_samples=Param("min_frames"), dim=POSE_DIM, what="pose FD", small_set_hint="")
    channels = Channels(value=False, artifacts=("generated", "reference"))

    def score_clip(self, ctx: ClipContext) -> ClipValue:
        artifacts = {}
        for which in ("generated", "reference"):
            try:
                covered(ctx, which, self.params, self.variant)
                p = pose(ctx, which, self.params).vector()
                rows = p[np.isfinite(p).all(axis=1) & track(ctx, which, self.params).found]
            except NoValue:
                rows = np.zeros((0, POSE_DIM))
            artifacts[which] = rows.astype(np.float64)
        return ClipValue(
            None,
            extras={"frames_generated": len(artifacts["generated"]), "frames_reference": len(artifacts["reference"])},
            artifacts=artifacts,
        )
