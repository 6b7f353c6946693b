"""The conventions of the reference `cpbd` package (1.0.7) that both CPBD implementations reproduce.

metrics.cpbd (numpy, CPU) and metrics.cpbd_torch (torch, CUDA) import them from here, so the two
cannot drift apart and neither has to import the other for them.
"""

from __future__ import annotations

import numpy as np

BLOCK = 64
EDGE_BLOCK_FRACTION = 0.002
BETA = 3.6
MAX_MARGIN = 100  # the reference looks at most 101 pixels to each side
SHARP_BUCKETS = 64  # histogram bins [0, 64) of round(100 * P_blur)
CANNY_LOW = float(np.float32(0.1))  # skimage passes low_threshold through a C `float`
CANNY_HIGH = 0.2
# just-noticeable blur width of an edge block: 5 px up to this contrast (int(max - min)), else 3 px
JNB_CONTRAST, JNB_LOW_CONTRAST_WIDTH, JNB_HIGH_CONTRAST_WIDTH = 50, 5.0, 3.0
# grey conversion: PIL "L" (ITU-R 601-2 in 16-bit fixed point, rounded; what the package's command line
# reads) is the default; skimage.color.rgb2gray's ITU-R 709 weights, times 255 rounded half to even to
# integer grey (img_as_ubyte, what a grey file holds), make the variant cpbd-bt709
BT709_WEIGHTS = (0.2125, 0.7154, 0.0721)
