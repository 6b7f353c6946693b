"""A new run beside an earlier one of the same model: what changed since, and what it can reuse.

A run's identity holds what made its frames, so regenerated videos (`folder`) or another model
version (`command`) make a new run folder and the earlier run stays as it was. The earlier run
it resembles is looked up among its siblings (same protocol, model, seed and shard) so the new
command can say what changed. When only some of a folder's files changed, the other clips' rows
(same row key: same file, clip and seed) are copied over instead of being scored again.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from benchmark.engine.plan import RunPlan
from benchmark.engine.store import RunStore
from benchmark.core.errors import BenchError
from benchmark.core.records import RUN_FILE

MAX_LISTED = 8  # clip ids named in the message


@dataclass
class Resemblance:
    run_dir: Path  # the earlier run
    label: str
    changed: list[str] = field(default_factory=list)  # clip ids whose files differ (same model otherwise)
    n_clips: int = 0
    versions: tuple[str, str] | None = None  # (earlier, new) model version of a `command` run

    def message(self, label: str) -> str:
        if self.versions:
            what = f"model version {self.versions[1]} (run {self.run_dir} was made by {self.versions[0]})"
        else:
            listed = ", ".join(self.changed[:MAX_LISTED]) + (", …" if len(self.changed) > MAX_LISTED else "")
            what = f"{len(self.changed)} of {self.n_clips} videos differ from run {self.run_dir} (clip ids {listed})"
        text = f"a new run: {what}; that run stays as it was"
        if label == self.label:
            text += f". Both are labelled {label!r}: give this one its own --name so tables tell them apart"
        return text


def find_resembling(plan: RunPlan, run_dir: Path) -> Resemblance | None:
    """The newest sibling run of the same model and options whose frames came from other files or another version."""
    name = run_dir.name
    if plan.run_id not in name or not run_dir.parent.is_dir():
        return None
    # any label: the folder name starts with the label it was created under, which a new --name changes
    seed_part = f"-seed{plan.seeds['generation']}-"
    sibling = re.compile(
        ".+" + re.escape(seed_part) + "[0-9a-f]{12}" + re.escape(name[name.index(plan.run_id) + len(plan.run_id) :])
    )
    found = []
    for other in run_dir.parent.iterdir():
        if other == run_dir or not sibling.fullmatch(other.name) or not (other / RUN_FILE).is_file():
            continue
        try:
            old = RunPlan.from_dict(json.loads((other / RUN_FILE).read_text())["plan"])
            resemblance = _compare(old, plan, other)
        except (OSError, ValueError, KeyError, TypeError, BenchError):
            continue  # not a run this harness can read: nothing to compare with
        if resemblance is not None:
            found.append(((other / RUN_FILE).stat().st_mtime, resemblance))
    return max(found, key=lambda f: f[0])[1] if found else None


def _compare(old: RunPlan, new: RunPlan, old_dir: Path) -> Resemblance | None:
    if old.run_id == new.run_id or [c.id for c in old.clips] != [c.id for c in new.clips]:
        return None
    label = old.label or old.adapter.get("name", "")
    if old.shared_identity() == new.shared_identity():  # the same model, other files
        before = {c.id: c.input for c in old.clips}
        changed = [c.id for c in new.clips if c.input is not None and before.get(c.id) != c.input]
        return Resemblance(old_dir, label, changed, len(new.clips)) if changed else None
    a, b = old.shared_identity(), new.shared_identity()
    a.pop("adapter"), b.pop("adapter")
    same_options = {k: v for k, v in old.adapter.get("config", {}).items() if k != "version"} == {
        k: v for k, v in new.adapter.get("config", {}).items() if k != "version"
    }
    versions = (old.adapter.get("model_version"), new.adapter.get("model_version"))
    if (
        a == b
        and same_options
        and old.adapter.get("code_version") == new.adapter.get("code_version")
        and None not in versions
        and versions[0] != versions[1]
    ):
        return Resemblance(old_dir, label, n_clips=len(new.clips), versions=versions)
    return None


def reuse_unchanged_rows(resemblance: Resemblance, plan: RunPlan, store: RunStore) -> int:
    """Copy the earlier run's scored rows (and their arrays, kept videos) of the clips whose files did not change."""
    if resemblance.versions:
        return 0  # another model version: every frame may differ
    earlier = RunStore(resemblance.run_dir).latest_rows()
    reused = 0
    for clip in plan.clips:
        row = earlier.get(clip.key)
        if row is not None and row.ok:
            store.copy_row_files(resemblance.run_dir, row)
            store.append_row(row)
            reused += 1
    return reused
