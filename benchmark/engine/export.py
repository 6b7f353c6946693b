"""`bench export`: a protocol's inputs as a pack that a model in another environment can read.

Most models people evaluate live in their own repository and environment. The pack gives each
clip's identity image and speech, with the number of frames, frame rate and size the harness
expects back and the exact file name to write, so the outputs can be scored with
`bench run --model folder`. `--limit` and `--subset-seed` pick the same clips `bench run` would.
"""

from __future__ import annotations

import csv
from pathlib import Path

from benchmark.engine.worker import open_protocol
from benchmark.core.errors import BenchError
from benchmark.core.media import write_model_inputs
from benchmark.core.records import write_json_atomic
from benchmark.core.settings import Settings
from benchmark.core.subset import stratified_subset

PACK_VERSION = 1
CSV_FIELDS = ("clip_id", "speaker", "identity", "audio", "audio_rate", "n_frames", "fps", "height", "width", "output")


def export_pack(
    dataset: str,
    out: Path,
    settings: Settings,
    limit: int | None = None,
    subset_seed: int = 0,
    audio_rate: int | None = None,
    log=print,
) -> dict:
    """Write identity images, audio, manifest.json / manifest.csv and a README into `out`; return the manifest."""
    if limit is not None and limit < 1:
        raise BenchError(f"--limit {limit}: must be a positive number of clips", hint="e.g. --limit 4")
    if audio_rate is not None and audio_rate < 1000:
        raise BenchError(f"--audio-rate {audio_rate}: not an audio sample rate", hint="e.g. --audio-rate 16000")
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not (out / "manifest.json").is_file():
        raise BenchError(f"{out} exists and is not an export pack", hint="choose an empty or new folder with -o")
    protocol = open_protocol(dataset, settings, log)
    every_clip = protocol.clips()
    clips = stratified_subset(every_clip, limit, subset_seed)
    entries = []
    for clip in clips:
        # the same files `--model command` hands a model: either route gives it the same bytes
        identity, audio, target = write_model_inputs(
            out / "inputs" / clip.id, clip.identity_path, clip.audio_path, audio_rate
        )
        height, width = clip.size
        entries.append(
            {
                "clip_id": clip.id,
                "speaker": clip.speaker,
                "identity": str(identity.relative_to(out)),
                "audio": str(audio.relative_to(out)),
                "audio_rate": target,
                "n_frames": clip.n_frames,
                "fps": clip.fps,
                "height": height,
                "width": width,
                "output": f"{clip.id}.mp4",
            }
        )
    manifest = {
        "pack_version": PACK_VERSION,
        "protocol": {
            "id": protocol.id,
            "name": protocol.name,
            "version": protocol.version,
            "clip_list_fingerprint": protocol.fingerprint(clips),
            "n_clips": len(clips),
            "n_protocol_clips": len(every_clip),
        },
        "selection": {"limit": limit, "subset_seed": subset_seed, "method": "speaker-stratified"},
        "identity_rule": protocol.identity_rule,
        "audio": {
            "rate": audio_rate,
            "resampled": audio_rate is not None,
            "method": "scipy.signal.resample_poly" if audio_rate else "copied as prepared",
        },
        "clips": entries,
    }
    write_json_atomic(out / "manifest.json", manifest)
    with open(out / "manifest.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        writer.writeheader()
        writer.writerows(entries)
    (out / "README.md").write_text(pack_readme(manifest, dataset), encoding="utf-8")
    return manifest


def pack_readme(manifest: dict, dataset: str) -> str:
    protocol, selection = manifest["protocol"], manifest["selection"]
    subset = f"--limit {selection['limit']} --subset-seed {selection['subset_seed']}" if selection["limit"] else ""
    first = manifest["clips"][0] if manifest["clips"] else None
    example = (
        (
            f"For example clip `{first['clip_id']}`: read `{first['identity']}` and `{first['audio']}`, write "
            f"`{first['output']}` with {first['n_frames']} frames at {first['fps']:g} fps, "
            f"{first['width']}x{first['height']} (width x height)."
        )
        if first
        else ""
    )
    return f"""# Inputs of {protocol["id"]} for a model run elsewhere

{protocol["n_clips"]} of the protocol's {protocol["n_protocol_clips"]} clips{" (`" + subset + "`)" if subset else ""}.
`manifest.csv` / `manifest.json` list, per clip, the identity image, the speech (16-bit WAV at
`audio_rate` Hz), and what the harness expects back: `n_frames` frames at `fps`, `height` x
`width` pixels, in a file named `output` (the clip id + `.mp4`; .mkv .avi .mov .mpg .webm also work).

Identity image: {manifest["identity_rule"]}.

{example}

## Scoring the outputs

Put every output file in one folder (no subfolders), check them (seconds, nothing scored), then score:

    bench validate --model folder --model-args dir=/path/to/outputs --dataset {dataset}{" " + subset if subset else ""}
    bench run --model folder --model-args dir=/path/to/outputs --dataset {dataset} --name YOUR-MODEL{" " + subset if subset else ""}

A missing, unreadable or mismatched file fails that clip with its reason; the others are scored.
Outputs of another size or rate are refused unless you ask for them to be conformed, and every
conformed clip is recorded: add `resize=lanczos` (same aspect ratio only) and/or `fps=nearest`
(nearest frame, as FFmpeg's fps filter) to `--model-args`. Up to `max_length_diff=2` frames too
many are cut at the end, too few are padded with the last frame. Give the run a `--name`: it is
what the leaderboard and the tables call your model.
"""
