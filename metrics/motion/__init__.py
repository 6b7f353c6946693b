"""Motion, expression and weightless lip-sync: the metric math as pure functions on per-frame signals.

`theval`: THEval's five offline metrics (lip, eyebrow and head-motion dynamics, silent-lip stability,
lip sync) and its GT-normalised composite, computed as its code computes them, with our gap-respecting
variants beside them. `sync`: our weightless audio-visual offset (lag of best correlation between mouth
openness and the speech envelope). `head`: pose diversity, Bailando's beat alignment in seconds, pose L1
and pose Fréchet distance. Every function takes arrays (landmarks, pose, openness, envelopes, speech
intervals), never a video, so each is tested on synthetic inputs with known answers
(tests/test_motion_math.py). Sources and conventions: MOTION-SYNC.md in the project's shared notes.
"""
