"""Write random weights in every adapter's official file format under OUT/<adapter>/.

    .venv/bin/python scripts/make_random_weights.py OUT [--size 256]

Then `bench run --model wav2lip --dataset mini --weights OUT` runs the real loading code end to
end. The videos are noise: this checks the plumbing, not a model.
"""

import argparse
from pathlib import Path

from adapters.random_weights import write_all

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("out", type=Path)
parser.add_argument("--size", type=int, default=256, help="StyleGAN2 resolution (1024 = FFHQ config-f; slow on CPU)")
args = parser.parse_args()
for path in write_all(args.out, args.size):
    print(f"{path}  {path.stat().st_size / 1e6:.1f} MB")
