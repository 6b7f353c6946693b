"""`wav2lip`: Wav2Lip (Prajwal et al. 2020) run as its inference script runs it, on a still identity.

The identity image stands in for the video (the official `--static` mode): one face box, a 96×96
crop whose lower half is masked for the target and kept whole as the reference, BGR/255; one
16-step mel chunk per output frame; the prediction is resized back and pasted hard into the frame.

Face box: the official script uses S3FD, whose weights it downloads. Offline, the box comes from
the mediapipe face mesh reduced to iBUG-68 points — jaw extent left/right/bottom, top 0.2 brow-to-chin distances
above the brows, an approximation of S3FD's box — then the official pads
(top 0, bottom 10, left 0, right 0). With one still image the official 5-frame box smoothing is a
no-op. The detector is recorded in the adapter config, its version in the fingerprint.
Licence of the weights: research / non-commercial (Wav2Lip README).
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from adapters.audio_features import wav2lip_chunks, wav2lip_mel, to_16k
from adapters.base import Capabilities
from adapters.nets.wav2lip import Wav2Lip
from adapters.neural import NeuralAdapter
from adapters.official_formats import load_wav2lip
from benchmark.core.errors import ClipError
from benchmark.perception.face_geometry import face_box_from_landmarks
from benchmark.core.types import GenerationRequest, Video

FACE_SIZE = 96
PADS = (0, 10, 0, 0)  # top, bottom, left, right (the official default)
DETECTOR = "mediapipe-facemesh->ibug68 box (S3FD approximation) + pads (0,10,0,0)"
FACE_BOX_LANDMARKS = "mediapipe"  # its version is part of the fingerprint (Adapter.perception)
BATCH = 128  # the official wav2lip_batch_size
TINY_AUDIO_GAIN = 1000.0


def face_box(points: np.ndarray, height: int, width: int) -> tuple[int, int, int, int]:
    """(x1, y1, x2, y2) in pixels from iBUG-68 points, padded as the official script pads S3FD boxes."""
    x1, y1, x2, y2 = face_box_from_landmarks(points)
    return (
        max(0, int(round(x1)) - PADS[2]),
        max(0, int(round(y1)) - PADS[0]),
        min(width, int(round(x2)) + PADS[3]),
        min(height, int(round(y2)) + PADS[1]),
    )


class Wav2LipAdapter(NeuralAdapter):
    name = "wav2lip"
    description = "Wav2Lip (Prajwal et al. 2020), official checkpoint, static identity, mediapipe face box"
    capabilities = Capabilities(uses_audio=True, uses_identity=True, uses_reference_frames=False)

    def __init__(self, **config):
        super().__init__(**config)
        self.config["face_detector"] = DETECTOR

    def build(self, paths):
        if paths is None:
            net = Wav2Lip(width=0.125)
            with torch.no_grad():  # a random net barely hears the audio: amplify its embedding so speech shows
                net.audio_encoder[-1].conv_block[1].weight.mul_(TINY_AUDIO_GAIN)
            return {"generator": net}
        return {"generator": load_wav2lip(paths["wav2lip"])}

    def perception(self) -> dict[str, str]:
        return {"face_box": self.landmark_backend(FACE_BOX_LANDMARKS).version()}

    @torch.no_grad()
    def generate(self, request: GenerationRequest, seed: int) -> Video:
        frame = request.identity
        track = self.landmark_backend(FACE_BOX_LANDMARKS).detect(frame[None])
        if not track.found[0]:
            raise ClipError("generate", "wav2lip: no face found in the identity image")
        x1, y1, x2, y2 = face_box(track.points[0], *frame.shape[:2])
        face = cv2.resize(
            np.ascontiguousarray(frame[y1:y2, x1:x2, ::-1]), (FACE_SIZE, FACE_SIZE)
        )  # BGR, as cv2 reads it
        masked = face.copy()
        masked[FACE_SIZE // 2 :] = 0
        face_input = torch.from_numpy(np.concatenate([masked, face], axis=2) / 255.0).float().permute(2, 0, 1)
        mels = torch.from_numpy(
            wav2lip_chunks(wav2lip_mel(to_16k(request.audio, request.sample_rate)), request.n_frames, request.fps)
        )
        net = self.nets["generator"]
        out = np.repeat(frame[None], request.n_frames, axis=0)
        for start in range(0, request.n_frames, BATCH):
            mel = mels[start : start + BATCH, None].to(self.device)
            faces = face_input[None].expand(len(mel), -1, -1, -1).to(self.device)
            pred = net(mel, faces).permute(0, 2, 3, 1).cpu().numpy() * 255.0
            for i, p in enumerate(pred):
                patch = cv2.resize(p.astype(np.uint8), (x2 - x1, y2 - y1))
                out[start + i, y1:y2, x1:x2] = patch[:, :, ::-1]  # back to RGB
        return Video(out, request.fps)
