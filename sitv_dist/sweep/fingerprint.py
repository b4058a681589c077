"""What a loss depends on, component by component, by content: the model's weights,
tokenizer and config files (a hub id by the snapshot it resolves to), the settings that change
numbers, each direction's tensors and each eval set's texts.

A point's fingerprint covers the base, the directions it moves along and the eval sets it
has, nothing else: adding a direction, a grid or refinement points leaves every existing
point valid, while rescaling a model in place invalidates them all. Comparing the inputs of
two plans names what changed."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..config import ConfigError, ExperimentConfig
from ..texts import Text
from ..vectors import directions as direction_files
from .hashing import FileHashes
from .scores.scores_registry import score_settings

# Files of a model directory the losses depend on (weights, config, tokenizer); READMEs,
# licences and training logs are not.
MODEL_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf", ".json", ".model", ".txt", ".tiktoken")


def _digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:24]


def resolve_hub(repo_id: str) -> tuple[Path, str] | None:
    """The local snapshot folder and commit of a hub model in the Hugging Face cache (the one
    transformers will load offline), or None when it is not cached."""
    from huggingface_hub import snapshot_download
    try:
        folder = Path(snapshot_download(repo_id, local_files_only=True))
    except Exception:  # not cached, or the id is not a model repo: identified by name only
        return None
    return folder, folder.name


def model_identity(location: str, gguf_file: str, hashes: FileHashes) -> dict:
    """{"files": {name: content digest}} of a local model directory (a hub id: of its cached
    snapshot, plus the commit); an uncached hub id is known by name only."""
    path = Path(location).expanduser()
    out: dict = {}
    if not path.is_dir():
        resolved = resolve_hub(location)
        if resolved is None:
            return {"hub": location, "revision": "unknown (not in the local cache)"}
        path, out["revision"] = resolved
        out["hub"] = location
    files = sorted(f for f in path.iterdir() if f.is_file() and f.suffix in MODEL_SUFFIXES
                   and (f.suffix != ".gguf" or f.name == gguf_file))
    out["files"] = {f.name: hashes.digest(f) for f in files}
    return out


def _direction_digest(path: Path, hashes: FileHashes) -> str:
    """A dense task vector by its tensors; a LoRA adapter directory by its config and weights."""
    if direction_files.lora.is_adapter(path):
        parts = [hashes.digest(f) for f in (Path(path) / direction_files.lora.CONFIG_FILE,
                                            Path(path) / direction_files.lora.WEIGHTS_FILE) if f.is_file()]
        return "lora:" + hashlib.sha256("".join(parts).encode()).hexdigest()
    return hashes.digest(path)


def experiment_inputs(cfg: ExperimentConfig, location: str, tv_paths: dict[str, Path],
                      texts: dict[str, list[Text]], hashes: FileHashes) -> dict:
    """Every component a loss depends on, as JSON (kept in plan.json to say what changed)."""
    settings = {"model.dtype": cfg.model.dtype, "model.gguf_file": cfg.model.gguf_file,
                "sweep.apply_dtype": cfg.sweep.apply_dtype, "sweep.vector_dtype": cfg.sweep.vector_dtype,
                "eval.max_length": cfg.eval.max_length, "eval.batch_size": cfg.eval.batch_size,
                "eval.logit_chunk": cfg.eval.logit_chunk}
    settings.update(score_settings(cfg))        # multiple-choice sets and lm-eval settings, when configured
    directions = {}
    for name, path in sorted(tv_paths.items()):
        if not direction_files.exists(path):
            raise ConfigError(f"sweep.task_vectors.{name}: {path} does not exist; fine-tune first "
                              "(`sitv finetune`) or name an existing file")
        directions[name] = _direction_digest(path, hashes)
    sets = {}
    for name in sorted(texts):
        h = hashlib.sha256()
        for t in texts[name]:
            h.update(f"{t.category}\x1f{t.text}\x1e".encode())
        sets[name] = h.hexdigest()[:24]
    model = model_identity(location, cfg.model.gguf_file, hashes)
    hashes.save()
    return {"model": model, "settings": settings, "directions": directions, "sets": sets}


def experiment_fingerprint(inputs: dict) -> str:
    """One digest of every input (shown in reports; points are checked by `point_fingerprint`)."""
    return _digest(inputs)


def point_fingerprint(inputs: dict, directions: list[str], coefficients: list[float], sets: list[str]) -> str:
    """What one point's losses depend on: the base, the directions it moves along, its eval sets."""
    model = {k: v for k, v in inputs["model"].items() if k != "revision"} if "files" in inputs["model"] else inputs["model"]
    return _digest({"model": model, "settings": inputs["settings"],
                    "directions": {d: inputs["directions"][d] for d, c in zip(directions, coefficients) if c != 0.0},
                    "sets": {s: inputs["sets"][s] for s in sets}})


def changes(old: dict, new: dict) -> list[str]:
    """What differs between two experiments' inputs that points of the old one depend on
    (a direction or eval set only the new one has is an addition, not a change)."""
    out = []
    old_model, new_model = old.get("model", {}), new.get("model", {})
    if "files" not in old_model or "files" not in new_model:       # a hub id known by name only
        if (old_model.get("hub"), old_model.get("revision")) != (new_model.get("hub"), new_model.get("revision")):
            out.append(f"model: {old_model.get('hub') or 'local files'} at {old_model.get('revision', '-')} → "
                       f"{new_model.get('hub') or 'local files'} at {new_model.get('revision', '-')}")
    old_files, new_files = old_model.get("files", {}), new_model.get("files", {})
    for name in sorted(set(old_files) | set(new_files)):
        if old_files.get(name) != new_files.get(name):
            what = "added" if name not in old_files else "removed" if name not in new_files else "content changed"
            out.append(f"model file {name}: {what}")
    for key in sorted(set(old.get("settings", {})) | set(new.get("settings", {}))):
        a, b = old.get("settings", {}).get(key), new.get("settings", {}).get(key)
        if a != b:
            out.append(f"{key}: {a!r} → {b!r}")
    for kind, label in (("directions", "direction"), ("sets", "eval set")):
        for name in sorted(set(old.get(kind, {})) & set(new.get(kind, {}))):
            if old[kind][name] != new[kind][name]:
                out.append(f"{label} {name!r}: content changed")
    return out
