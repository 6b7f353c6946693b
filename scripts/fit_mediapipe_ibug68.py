"""Fit the mediapipe-mesh -> iBUG-68 correspondence (benchmark/perception/assets/mediapipe_ibug68.json).

For each iBUG point, pick the mesh vertex, or the mean of two vertices, from the same
anatomical contour (mediapipe's own FACEMESH_* region sets: eyelids for eye points, the inner
lip ring for inner-lip points, ...), whose position best
matches the mini protocol's planted landmarks (mean distance over frames of speakers spk1, spk2);
report the error on the held-out speakers spk3, spk4. Run once; the result ships in the repo.
Usage: BENCH_DATA=... python scripts/fit_mediapipe_ibug68.py
"""

import itertools
import json

import numpy as np

from benchmark.core.paths import data_root
from benchmark.perception.landmarks import ASSETS, MediapipeLandmarks
from protocols.mini import MiniProtocol


def collect(clips, backend, step=2):
    meshes, truth = [], []
    for clip in clips:
        frames, planted = clip.load_frames(), clip.load_annotations()["landmarks"]
        for t in range(0, clip.n_frames, step):
            mesh = backend.mesh(frames[t])
            if mesh is not None:
                meshes.append(mesh[:, :2])
                truth.append(planted[t])
    return np.stack(meshes), np.stack(truth).astype(np.float64)


def vertices(*edge_sets):
    return sorted({v for edges in edge_sets for edge in edges for v in edge})


def lip_rings(lip_edges):
    """Split mediapipe's lip edges into its two closed rings; the outer ring has the larger extent."""
    adjacency = {}
    for a, b in lip_edges:
        adjacency.setdefault(a, set()).add(b)
        adjacency.setdefault(b, set()).add(a)
    rings, seen = [], set()
    for start in adjacency:
        if start in seen:
            continue
        ring, stack = set(), [start]
        while stack:
            v = stack.pop()
            if v not in ring:
                ring.add(v)
                stack.extend(adjacency[v] - ring)
        seen |= ring
        rings.append(sorted(ring))
    return rings


def region_candidates(reference_mesh):
    """Per iBUG point, the mesh vertices allowed to represent it (same anatomical contour)."""
    from mediapipe.python.solutions import face_mesh_connections as c

    rings = lip_rings(c.FACEMESH_LIPS)
    spread = [np.ptp(reference_mesh[r, 0]) for r in rings]
    outer, inner = (rings[0], rings[1]) if spread[0] > spread[1] else (rings[1], rings[0])
    iris = set(vertices(c.FACEMESH_IRISES))
    anywhere = [v for v in range(478) if v not in iris]
    regions = [
        (range(0, 17), vertices(c.FACEMESH_FACE_OVAL)),
        (range(17, 27), vertices(c.FACEMESH_LEFT_EYEBROW, c.FACEMESH_RIGHT_EYEBROW)),
        (range(27, 36), anywhere),
        (range(36, 48), vertices(c.FACEMESH_LEFT_EYE, c.FACEMESH_RIGHT_EYE)),
        (range(48, 60), outer),
        (range(60, 68), inner),
    ]
    allowed = {}
    for points, verts in regions:
        for k in points:
            allowed[k] = np.asarray(verts)
    return allowed


def main():
    protocol = MiniProtocol(data_root())
    protocol.prepare()
    clips = protocol.clips()
    backend = MediapipeLandmarks.__new__(MediapipeLandmarks)
    from mediapipe.python.solutions import face_mesh

    backend._mesh = face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=True)
    fit_mesh, fit_truth = collect([c for c in clips if c.speaker in ("spk1", "spk2")], backend)
    test_mesh, test_truth = collect([c for c in clips if c.speaker in ("spk3", "spk4")], backend)
    allowed = region_candidates(fit_mesh.mean(0))
    correspondence = []
    for k in range(68):
        err_single = np.full(478, np.inf)
        err_single[allowed[k]] = np.linalg.norm(fit_mesh[:, allowed[k]] - fit_truth[:, k : k + 1], axis=2).mean(0)
        near = np.argsort(err_single)[: min(12, len(allowed[k]))]
        best = ([int(near[0])], err_single[near[0]])
        for a, b in itertools.combinations(near, 2):
            err = np.linalg.norm((fit_mesh[:, a] + fit_mesh[:, b]) / 2 - fit_truth[:, k], axis=1).mean()
            if err < best[1] - 0.05:  # a pair must be clearly better than one vertex
                best = ([int(a), int(b)], err)
        correspondence.append(sorted(best[0]))
    mapped = np.stack([test_mesh[:, g].mean(1) for g in correspondence], 1)
    err = np.linalg.norm(mapped - test_truth, axis=2).mean(0)
    groups = {
        "jaw": range(0, 17),
        "brows": range(17, 27),
        "nose": range(27, 36),
        "eyes": range(36, 48),
        "outer lips": range(48, 60),
        "inner lips": range(60, 68),
    }
    report = {g: round(float(err[list(r)].mean()), 3) for g, r in groups.items()}
    doc = {
        "description": "iBUG-68 point k = mean of mediapipe FaceMesh (478, refine_landmarks) vertices correspondence[k]",
        "fitted_by": "scripts/fit_mediapipe_ibug68.py on mini/v1 planted landmarks (speakers spk1, spk2)",
        "heldout_mean_error_px_at_256": report,
        "heldout_frames": int(len(test_mesh)),
        "correspondence": correspondence,
    }
    (ASSETS / "mediapipe_ibug68.json").write_text(json.dumps(doc, indent=1) + "\n")
    print(json.dumps(report), len(fit_mesh), len(test_mesh))


if __name__ == "__main__":
    main()
