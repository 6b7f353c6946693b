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
only the request's speech and identity image, in a fresh temporary folder per clip, as the very
bytes `bench export` writes (media.write_model_inputs): by `command` or by `folder` on an exported
pack, a deterministic model makes the same frames. The command runs in its own process group,
ended with everything in it when the clip ends (exit, timeout, Ctrl-C or SIGTERM of bench). A
non-zero exit, a timeout or a missing output fails that clip with the tail of its stderr.
The fingerprint covers the command template, cwd, interpreter and `version=` (or the git commit
of cwd, dirty or not): without either, a changed model would reuse old scores, so it warns.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import tempfile
import threading
from pathlib import Path

import numpy as np

from adapters.base import Adapter, Capabilities
from adapters.conform import CONFORM_ARGS, ConformPolicy, read_conformed
from benchmark.core.errors import BenchError, ClipError
from benchmark.core.hashing import sha256_bytes, sha256_json
from benchmark.core.media import MediaError, read_image, read_wav, write_image, write_model_inputs, write_wav
from benchmark.core.types import GenerationRequest, Video

PLACEHOLDERS = ("identity", "audio", "output", "n_frames", "fps", "height", "width", "clip_id", "python", "audio_rate")
STDERR_TAIL = 600  # characters of the command's stderr kept in a failed clip's reason
DEFAULT_TIMEOUT_S = 900.0
GROUP_GRACE_S = 2.0  # after SIGTERM, before SIGKILL, when a clip is stopped
PIPE_DRAIN_S = 5.0  # for the rest of stderr once the group is gone


class CommandAdapter(Adapter):
    name = "command"
    description = (
        "A model in its own environment: --model-args-file with run=COMMAND ({identity} {audio} {output} …), "
        "cwd=, python=, version=, timeout=; resize=, fps=, max_length_diff=, video_stream= conform its output"
    )
    capabilities = Capabilities(uses_audio=True, uses_identity=True, uses_reference_frames=False)
    external = True
    accepted_args = ("run", "cwd", "python", "version", "timeout", *CONFORM_ARGS)
    frames_depend_on_threads = False  # made in another process, which does not get bench's threads

    def __init__(
        self,
        run: str | None = None,
        cwd: str | None = None,
        python: str | None = None,
        version: str | None = None,
        timeout: str | float | None = None,
        **config,
    ):
        if not run:
            raise BenchError(
                "the command adapter needs the command to run per clip",
                hint="put run=python inference.py --face {identity} --audio {audio} --out {output} "
                "in a file and pass --model-args-file FILE",
            )
        self.cwd = Path(cwd).expanduser().resolve() if cwd else None
        if self.cwd is not None and not self.cwd.is_dir():
            raise BenchError(
                f"command adapter: cwd {self.cwd} is not a directory", hint="cwd=/path/to/the/model's/repo"
            )
        self.template = run
        self.python = python or "python"
        self.timeout = _positive_seconds(timeout)
        _check_template(run)
        self.conform = ConformPolicy.from_config(self.name, config)
        super().__init__(
            run=run,
            cwd=str(self.cwd) if self.cwd else None,
            python=python,
            version=version,
            timeout=self.timeout,
            **config,
        )
        self.version = version or _git_commit(self.cwd)

    def default_label(self) -> str:
        """The model's folder, else the script or program the command runs (not `{python}`, `python3`, `bash`)."""
        return self.cwd.name if self.cwd else program_name(self.template)

    def warnings(self) -> list[str]:
        if self.version:
            return []
        return [
            "the command adapter has no version= and its cwd is not a git checkout: a changed model would "
            "reuse this run's scores. Pass version=... (or run from a git checkout)"
        ]

    def fingerprint(self) -> str:
        # the model's code lives outside this repository: its version (or commit) stands for it
        return sha256_json({"adapter": super().fingerprint(), "model_version": self.version})

    def describe(self) -> dict:
        return {
            **super().describe(),
            "conform": self.conform.describe(),
            "model_version": self.version or "unversioned: pass version= or use a git checkout as cwd",
        }

    def generate(self, request: GenerationRequest, seed: int) -> Video:
        with tempfile.TemporaryDirectory(prefix="bench-command-") as tmp:
            tmp = Path(tmp)
            identity, audio = _write_request_files(request, tmp)
            values = {
                "identity": identity,
                "audio": audio,
                "output": tmp / "output.mp4",
                "n_frames": request.n_frames,
                "fps": f"{request.fps:g}",
                "height": request.size[0],
                "width": request.size[1],
                "clip_id": request.clip.id,
                "python": self.python,
                "audio_rate": request.sample_rate,
            }
            argv = [part.format(**{k: str(v) for k, v in values.items()}) for part in shlex.split(self.template)]
            try:
                returncode, stderr = run_in_own_group(argv, self.cwd, self.timeout)
            except FileNotFoundError:
                raise ClipError(
                    "generate",
                    f"command not found: {argv[0]!r} (cwd {self.cwd or Path.cwd()}); "
                    "give its full path or python=/path/to/venv/bin/python",
                ) from None
            except subprocess.TimeoutExpired:
                raise ClipError(
                    "generate",
                    f"the command ran past timeout={self.timeout:g} s and was stopped "
                    "(with every process it started); raise timeout= if the model is that slow",
                ) from None
            if returncode != 0:
                raise ClipError("generate", f"the command exited with status {returncode}: {_tail(stderr)}")
            if not values["output"].is_file():
                raise ClipError(
                    "generate",
                    f"the command exited 0 but wrote no {values['output'].name} at {{output}}: "
                    f"{_tail(stderr) or 'no stderr'}",
                )
            try:
                return read_conformed(values["output"], request.n_frames, request.size, request.fps, self.conform)
            except MediaError as exc:
                raise ClipError("generate", f"unusable output video: {exc}") from exc


def run_in_own_group(argv: list[str], cwd: Path | None, timeout: float) -> tuple[int, str]:
    """Run the command in a session of its own; (exit status, stderr).

    Whatever ends the clip (the command's exit, the timeout, Ctrl-C or SIGTERM of bench, any error)
    ends its whole process group: a model that starts workers or a server leaves no orphan holding
    memory or a GPU. The wait is on the command itself, not on its stderr, so a process it left
    behind holding the pipe open cannot stretch a finished clip to the timeout.
    """
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        start_new_session=True,
    )
    stderr: list[str] = []
    reader = threading.Thread(target=lambda: stderr.append(proc.stderr.read()), daemon=True)
    reader.start()
    grace_s = GROUP_GRACE_S
    try:
        proc.wait(timeout=timeout)
        grace_s = 0  # the command exited: what it left running is ended at once
    finally:  # the timeout, KeyboardInterrupt (bench turns SIGTERM into one), anything else
        _end_group(proc, grace_s)
        reader.join(timeout=PIPE_DRAIN_S)  # a process that left the group may hold the pipe: stop waiting
        if not reader.is_alive():
            proc.stderr.close()
    return proc.returncode, "".join(stderr)


def _end_group(proc: subprocess.Popen, grace_s: float) -> None:
    """SIGTERM to the group (a chance to free a GPU) and `grace_s` for the command to exit, then SIGKILL."""
    if grace_s > 0 and proc.poll() is None:
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            pass
    _signal_group(proc.pid, signal.SIGKILL)
    proc.wait()


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass  # the group is already gone


def _write_request_files(request: GenerationRequest, folder: Path) -> tuple[Path, Path]:
    """The request's identity and speech as the files `bench export` writes for the clip, byte for byte.

    A request whose arrays are not its clip's files (none is, in the harness) gets its own arrays
    written instead: the model must hear what it was asked to speak.
    """
    identity, audio, _ = write_model_inputs(
        folder, request.clip.identity_path, request.clip.audio_path, request.sample_rate
    )
    heard, rate = read_wav(audio)
    if rate != request.sample_rate or not np.array_equal(heard, request.audio):
        write_wav(audio, request.audio, request.sample_rate)
    if not np.array_equal(read_image(identity), request.identity):
        write_image(identity, request.identity)
    return identity, audio


def _check_template(template: str) -> None:
    try:
        parts = shlex.split(template)
    except ValueError as exc:
        raise BenchError(
            f"command adapter: run= cannot be split like a shell line ({exc})",
            hint="close every quote; put the arguments in --model-args-file to avoid --model-args comma splitting",
        ) from None
    for part in parts:
        try:
            part.format(**{k: "" for k in PLACEHOLDERS})
        except (KeyError, IndexError, ValueError) as exc:
            raise BenchError(
                f"command adapter: run= has an unknown placeholder in {part!r} ({exc})",
                hint=f"use {', '.join('{' + p + '}' for p in PLACEHOLDERS)}; write {{{{ }}}} for a literal brace",
            ) from None
    if not any("{output}" in part for part in parts):
        raise BenchError(
            "command adapter: run= never mentions {output}", hint="the command must write its video to {output}"
        )


INTERPRETERS = re.compile(r"(python[0-9.]*|bash|sh|env|uv|conda|micromamba|srun)")


def program_name(template: str) -> str:
    """What a command template runs, as a label: `{python} infer.py --audio {audio}` -> `infer`."""
    for word in shlex.split(template):
        name = Path(word).name
        if word.startswith(("{", "-")) or "=" in word or INTERPRETERS.fullmatch(name):
            continue  # placeholders, options, VAR=value and interpreters say nothing about the model
        return Path(name).stem if Path(name).suffix in (".py", ".sh") else name
    return "command"


def _positive_seconds(value) -> float:
    if value in (None, ""):
        return DEFAULT_TIMEOUT_S
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise BenchError(
            f"command adapter: timeout={value!r} is not a positive number of seconds", hint="e.g. timeout=600"
        )
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
