"""`still`: the identity image repeated for the clip's length. The floor most papers forget to report."""

from __future__ import annotations

import numpy as np

from adapters.base import Adapter, Capabilities
from benchmark.core.types import GenerationRequest, Video


class StillAdapter(Adapter):
    name = "still"
    description = "The identity image held for the whole clip (lower bound: no motion at all)"
    capabilities = Capabilities(uses_audio=False, uses_identity=True, uses_reference_frames=False)
    accepted_args = ()
    frames_depend_on_threads = False  # numpy copies of the identity image

    def generate(self, request: GenerationRequest, seed: int) -> Video:
        image = request.identity
        if image.shape[:2] != tuple(request.size):
            from PIL import Image

            h, w = request.size
            image = np.asarray(Image.fromarray(image).resize((w, h), Image.BICUBIC))
        return Video(np.repeat(image[None], request.n_frames, axis=0), request.fps)
