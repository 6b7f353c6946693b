"""`command`: a model run in its own environment, one process per clip.

    --model command --model-args-file args.txt      (one key=value per line, values taken verbatim)
    run=python inference.py --face {identity} --audio {audio} --out {output}
    cwd=/path/to/their/repo
    python=/path/to/their/venv/bin/python           (optional: {python} in `run`)
    version=v1.2                                    (optional; else the git commit of cwd)
    timeout=600                                     (seconds per clip)
    resize=lanczos  fps=nearest  max_length_diff=2  video_stream=N
                                                    (conform the output to the clip: adapters/conform.py)

The command is split like a shell would (shlex) but no shell runs it: write `sh -c '...'` to get
one. Placeholders: {identity} (PNG), {audio} (16-bit WAV at {audio_rate} Hz), {output} (write
the video here, .mp4), {n_frames}, {fps}, {height}, {width}, {clip_id}, {python}. The model sees
only the request's speech and identity image, written to a fresh temporary folder per clip. A
non-zero exit, a timeout or a missing output fails that clip with the tail of its stderr.
The fingerprint covers the command template, cwd, interpreter and `version=` (or the git commit
of cwd, dirty or not): without either, a changed model would reuse old scores, so it warns.
"""

from __future__ import annotations

import shlex
import subprocess
import tempfile
from pathlib import Path

from adapters.base import Adapter, Capabilities
from adapters.conform import CONFORM_ARGS, ConformPolicy, read_conformed
from benchmark.errors import BenchError, ClipError
from benchmark.fingerprint import sha256_bytes, sha256_json
from benchmark.media import MediaError, write_image, write_wav
from benchmark.types import GenerationRequest, Video

PLACEHOLDERS = ("identity", "audio", "output", "n_frames", "fps", "height", "width", "clip_id", "python", "audio_rate")
STDERR_TAIL = 600  # characters of the command's stderr kept in a failed clip's reason
DEFAULT_TIMEOUT_S = 900.0


class CommandAdapter(Adapter):
    name = "command"
    description = ("A model in its own environment: --model-args-file with run=COMMAND ({identity} {audio} {output} …), "
                   "cwd=, python=, version=, timeout=; resize=, fps=, max_length_diff=, video_stream= conform its output")
    capabilities = Capabilities(uses_audio=True, uses_identity=True, uses_reference_frames=False)
    external = True
    accepted_args = ("run", "cwd", "python", "version", "timeout", *CONFORM_ARGS)

    def __init__(self, run: str | None = None, cwd: str | None = None, python: str | None = None,
                 version: str | None = None, timeout: str | float | None = None, **config):
        if not run:
            raise BenchError("the command adapter needs the command to run per clip",
                             hint="put run=python inference.py --face {identity} --audio {audio} --out {output} "
                                  "in a file and pass --model-args-file FILE")
        self.cwd = Path(cwd).expanduser().resolve() if cwd else None
        if self.cwd is not None and not self.cwd.is_dir():
            raise BenchError(f"command adapter: cwd {self.cwd} is not a directory", hint="cwd=/path/to/the/model's/repo")
        self.template = run
        self.python = python or "python"
        self.timeout = _positive_seconds(timeout)
        _check_template(run)
        self.conform = ConformPolicy.from_config(self.name, config)
        super().__init__(run=run, cwd=str(self.cwd) if self.cwd else None, python=python, version=version,
                         timeout=self.timeout, **config)
        self.version = version or _git_commit(self.cwd)

    def default_label(self) -> str:
        return self.cwd.name if self.cwd else shlex.split(self.template)[0]

    def warnings(self) -> list[str]:
        if self.version:
            return []
        return ["the command adapter has no version= and its cwd is not a git checkout: a changed model would "
                "reuse this run's scores. Pass version=... (or run from a git checkout)"]

    def fingerprint(self) -> str:
        # the model's code lives outside this repository: its version (or commit) stands for it
        return sha256_json({"adapter": super().fingerprint(), "model_version": self.version})

    def describe(self) -> dict:
        return {**super().describe(), "conform": self.conform.describe(),
                "model_version": self.version or "unversioned: pass version= or use a git checkout as cwd"}

    def generate(self, request: GenerationRequest, seed: int) -> Video:
        with tempfile.TemporaryDirectory(prefix="bench-command-") as tmp:
            tmp = Path(tmp)
            values = {"identity": tmp / "identity.png", "audio": tmp / "audio.wav", "output": tmp / "output.mp4",
                      "n_frames": request.n_frames, "fps": f"{request.fps:g}", "height": request.size[0],
                      "width": request.size[1], "clip_id": request.clip.id, "python": self.python,
                      "audio_rate": request.sample_rate}
            write_image(values["identity"], request.identity)
            write_wav(values["audio"], request.audio, request.sample_rate)
            argv = [part.format(**{k: str(v) for k, v in values.items()}) for part in shlex.split(self.template)]
            try:
                proc = subprocess.run(argv, cwd=self.cwd, capture_output=True, text=True, errors="replace",
                                      timeout=self.timeout, stdin=subprocess.DEVNULL)
            except FileNotFoundError:
                raise ClipError("generate", f"command not found: {argv[0]!r} (cwd {self.cwd or Path.cwd()}); "
                                            "give its full path or python=/path/to/venv/bin/python") from None
            except subprocess.TimeoutExpired:
                raise ClipError("generate", f"the command ran past timeout={self.timeout:g} s and was stopped; "
                                            "raise timeout= if the model is that slow") from None
            if proc.returncode != 0:
                raise ClipError("generate", f"the command exited with status {proc.returncode}: {_tail(proc.stderr)}")
            if not values["output"].is_file():
                raise ClipError("generate", f"the command exited 0 but wrote no {values['output'].name} at {{output}}: "
                                            f"{_tail(proc.stderr) or 'no stderr'}")
            try:
                return read_conformed(values["output"], request.n_frames, request.size, request.fps, self.conform)
            except MediaError as exc:
                raise ClipError("generate", f"unusable output video: {exc}") from exc


def _check_template(template: str) -> None:
    try:
        parts = shlex.split(template)
    except ValueError as exc:
        raise BenchError(f"command adapter: run= cannot be split like a shell line ({exc})",
                         hint="close every quote; put the arguments in --model-args-file to avoid --model-args comma splitting") from None
    for part in parts:
        try:
            part.format(**{k: "" for k in PLACEHOLDERS})
        except (KeyError, IndexError, ValueError) as exc:
            raise BenchError(f"command adapter: run= has an unknown placeholder in {part!r} ({exc})",
                             hint=f"use {', '.join('{' + p + '}' for p in PLACEHOLDERS)}; write {{{{ }}}} for a literal brace") from None
    if not any("{output}" in part for part in parts):
        raise BenchError("command adapter: run= never mentions {output}", hint="the command must write its video to {output}")


def _positive_seconds(value) -> float:
    if value in (None, ""):
        return DEFAULT_TIMEOUT_S
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise BenchError(f"command adapter: timeout={value!r} is not a positive number of seconds", hint="e.g. timeout=600")
    return seconds


def _git_commit(cwd: Path | None) -> str | None:
    if cwd is None:
        return None
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=cwd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if not dirty.stdout.strip():
        return f"git:{head.stdout.strip()}"
    diff = subprocess.run(["git", "diff", "HEAD"], cwd=cwd, capture_output=True, timeout=60).stdout
    return f"git:{head.stdout.strip()}+dirty:{sha256_bytes(diff + dirty.stdout.encode())[:12]}"  # edits change it


def _tail(text: str) -> str:
    text = " ".join(text.strip().split())
    return text if len(text) <= STDERR_TAIL else "…" + text[-STDERR_TAIL:]
