"""Re-measure protocols/mini/assets/astronaut_ibug68.json (run once; not needed at run time).

Needs: pip install dlib-bin==20.0.1.post1 face_recognition_models==0.3.0 scikit-image
"""

import json
import sys
from pathlib import Path

import dlib
import face_recognition_models  # noqa: F401  (import fails without pkg_resources: then locate by path)
import numpy as np
from skimage import data

model = Path(face_recognition_models.__file__).parent / "models" / "shape_predictor_68_face_landmarks.dat"
image = data.astronaut()
faces = dlib.get_frontal_face_detector()(image, 1)
face = max(faces, key=lambda r: r.area())
shape = dlib.shape_predictor(str(model))(image, face)
points = np.array([[p.x, p.y] for p in shape.parts()], float).tolist()
out = Path(__file__).resolve().parents[1] / "protocols/mini/assets/astronaut_ibug68.json"
doc = json.loads(out.read_text())
doc["landmarks"] = points
out.write_text(json.dumps(doc, indent=1))
print(f"wrote {out}", file=sys.stderr)
