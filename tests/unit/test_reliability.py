"""Reliability (#10): stale results are never reused, names never leave OUT, checkpoints run
no code, systematic failures stop a shard, out-of-range pad ids just work, bad flags are early
errors, files follow the umask, degenerate points are flagged."""
import json
import os
import pickle
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from conftest import make_config, records
from sitv_dist.cli import main
from sitv_dist.config import ConfigError, load_config
from sitv_dist.io import write_json
from sitv_dist.outdir import OutDir
from sitv_dist.stages import sweep as pipeline
from sitv_dist.sweep import worker as worker_module
from sitv_dist.sweep.apply import PointWriter
from sitv_dist.sweep.plan import load_plan


def _copy_model(toy, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(toy["base"], model)
    return model


def test_weights_changed_in_place_are_detected_and_named(toy, tmp_path, capsys):
    model = _copy_model(toy, tmp_path)
    out = tmp_path / "out"
    cfg_path = make_config(toy, tmp_path, out, alpha={"start": -1.0, "stop": 1.0, "num": 3},
                           squaring=False, compositional=False)
    args = ["sweep", "-c", str(cfg_path), "--set", f"model.name_or_path={model}", "--no-reduce"]
    assert main(args) == 0
    old = {pid: r["sets"]["general"]["loss"] for pid, r in records(out).items()}
    weights = model / "model.safetensors"
    size = weights.stat().st_size
    tensors = load_file(str(weights))
    save_file({k: v * 3.0 for k, v in tensors.items()}, str(weights), metadata={"format": "pt"})
    assert weights.stat().st_size == size                 # same size: only the content says it changed
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "model file model.safetensors: content changed" in err and "holds results" in err
    assert {pid: r["sets"]["general"]["loss"] for pid, r in records(out).items()} == old   # nothing touched
    shutil.rmtree(out / "points")
    assert main(args) == 0
    new = {pid: r["sets"]["general"]["loss"] for pid, r in records(out).items()}
    assert set(new) == set(old) and all(new[p] != old[p] for p in old)


def test_changed_task_vector_is_named_and_an_added_grid_reuses_every_point(toy, tmp_path, capsys):
    out = tmp_path / "out"
    cfg_path = make_config(toy, tmp_path, out, alpha={"start": -2.0, "stop": 2.0, "num": 5},
                           squaring=False, compositional=False)
    cfg = load_config(cfg_path)
    pipeline.sweep(cfg, out, progress=False)
    logged = OutDir(out).evaluation_counts()
    line_ids = set(logged)
    grid = load_config(cfg_path, ["sweep.grids=[{directions: [mytask, other], range: {start: -2, stop: 2, num: 5}}]"])
    stats = pipeline.sweep(grid, out, progress=False)
    added = OutDir(out).evaluation_counts() - logged
    assert stats["complete"] and not set(added) & line_ids       # the line's points are reused
    assert stats["skipped"] == len(line_ids & {p.id for p in load_plan(out).points})
    vector = tmp_path / "T.safetensors"
    tensors = load_file(str(vector))
    save_file({k: v * 2.0 for k, v in tensors.items()}, str(vector))
    with pytest.raises(ConfigError, match="direction 'mytask': content changed"):
        pipeline.sweep(grid, out, progress=False)


def test_names_that_would_leave_out_are_refused_before_anything_is_written(toy, tmp_path, capsys):
    out = tmp_path / "deep" / "out"
    cfg_path = make_config(toy, tmp_path, out, grid_num=3)
    before = sorted(p.name for p in tmp_path.iterdir())
    for override, key in (("sweep.grids.0.name=../../ESC_grid", "sweep.grids.0.name"),
                          ("sweep.grids.0.name=a/b", "sweep.grids.0.name"),
                          ("tasks.0.name=../x", "tasks.0.name"),
                          ("sweep.derived_directions={../neg: {negate: mytask}}", "sweep.derived_directions")):
        assert main(["sweep", "-c", str(cfg_path), "--set", override]) == 2
        assert f"config error: {key}" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == before and not out.exists()


def test_checkpoint_rng_state_loads_without_pickle_code(tmp_path):
    from sitv_dist.finetune import checkpoint as ckpt
    import random
    import numpy as np
    torch.manual_seed(3)
    np.random.seed(3)
    random.seed(3)
    ckpt.torch_save([ckpt.rng_state()], tmp_path / "rng.pt")
    expected = (torch.rand(3), np.random.rand(3), random.random())
    ckpt.set_rng_state(torch.load(tmp_path / "rng.pt", weights_only=True)[0])
    again = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(expected[0], again[0]) and (expected[1] == again[1]).all() and expected[2] == again[2]

    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))
    folder = tmp_path / "checkpoint" / "step-1"
    folder.mkdir(parents=True)
    (folder / "rng.pt").write_bytes(pickle.dumps([Evil()], protocol=2))
    write_json(folder / "trainer.json", {"format": ckpt.CHECKPOINT_FORMAT, "meta": {}})

    class NoBackend:
        def load(self, folder):
            pass
    with pytest.raises(pickle.UnpicklingError):
        ckpt.load_checkpoint(folder, NoBackend(), {}, 0, keep_best=False)
    assert not marker.exists()


def test_pad_id_outside_the_embedding_matches_a_direct_computation(toy, tmp_path):
    from transformers import AutoTokenizer

    from test_sweep import direct_loss
    model = _copy_model(toy, tmp_path)
    tok = AutoTokenizer.from_pretrained(model)
    tok.add_special_tokens({"pad_token": "<pad-added-later>"})
    tok.save_pretrained(model)
    rows = json.loads((model / "config.json").read_text())["vocab_size"]
    assert tok.pad_token_id >= rows                         # a pad the model cannot embed
    out = tmp_path / "out"
    cfg = load_config(make_config(toy, tmp_path, out, alpha={"start": 0.0, "stop": 1.0, "num": 2},
                                  squaring=False, compositional=False), [f"model.name_or_path={model}"])
    stats = pipeline.sweep(cfg, out, progress=False)
    assert stats["failed"] == 0 and stats["complete"]
    plan = load_plan(out)
    for p in plan.points:
        alpha = p.coefficients[plan.directions.index("mytask")]
        loss = records(out)[p.id]["sets"]["general"]["loss"]
        assert loss == pytest.approx(direct_loss(toy, alpha, toy["general"]), rel=1e-5)


def test_a_systematic_error_stops_the_shard_and_is_printed(toy, tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    cfg = load_config(make_config(toy, tmp_path, out))

    def broken(self, coefficients):
        raise RuntimeError("weights on the wrong device")
    monkeypatch.setattr(PointWriter, "apply", broken)
    stats = pipeline.sweep(cfg, out, progress=False)
    err = capsys.readouterr().err
    assert stats["failed"] == worker_module.STREAK and stats["missing"] == len(load_plan(out).points)
    assert "RuntimeError: weights on the wrong device" in err and "stopping shard 0" in err
    assert len(OutDir(out).failed_ids()) == worker_module.STREAK


def test_bad_flags_fail_early_and_leave_the_plan_alone(toy, tmp_path, capsys):
    out = tmp_path / "out"
    cfg_path = make_config(toy, tmp_path, out)
    assert main(["sweep", "-c", str(cfg_path), "--no-reduce"]) == 0
    plan_before = (out / "plan.json").read_bytes(), (out / "plan.json").stat().st_mtime_ns
    capsys.readouterr()
    for argv, flag in ((["sweep", "--shard", "5"], "--shard"), (["sweep", "--shard", "-1"], "--shard"),
                       (["sweep", "--num-shards", "0"], "--num-shards"), (["sweep", "--workers", "0"], "--workers"),
                       (["refine", "--tol", "0"], "--tol"), (["refine", "--tol", "-1"], "--tol")):
        assert main(argv[:1] + ["-c", str(cfg_path)] + argv[1:]) == 2
        assert f"config error: {flag}" in capsys.readouterr().err
    assert main(["report", str(out), "--bootstrap", "-1"]) == 2
    assert "--bootstrap" in capsys.readouterr().err
    assert ((out / "plan.json").read_bytes(), (out / "plan.json").stat().st_mtime_ns) == plan_before


def test_huge_plans_need_confirmation(toy, tmp_path, capsys):
    cfg_path = make_config(toy, tmp_path, tmp_path / "out")
    assert main(["sweep", "-c", str(cfg_path), "--set", "sweep.alpha.num=100001"]) == 2
    err = capsys.readouterr().err
    assert "300,004 point evaluations" in err and "--confirm-large" in err and "sweep.max_points" in err
    assert not (tmp_path / "out" / "plan.json").exists()


def test_duplicate_yaml_keys_are_refused(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("sweep:\n  workers: 2\nsweep:\n  num_shards: 3\n")
    with pytest.raises(ConfigError, match="key 'sweep' appears twice.*line 3"):
        load_config(path)


def test_files_follow_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        write_json(tmp_path / "a.json", {"x": 1})
        OutDir(tmp_path).write_plan({"points": []})
    finally:
        os.umask(old)
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o640
    assert (tmp_path / "plan.json").stat().st_mode & 0o777 == 0o640


def test_degenerate_points_at_huge_alpha_are_flagged_not_reported(toy, tmp_path):
    from sitv_dist.sweep.reduce import reduce
    out = tmp_path / "huge"
    cfg = load_config(make_config(toy, tmp_path, out, alpha={"start": -1e7, "stop": 1e7, "num": 3},
                                  squaring=False, compositional=False))
    assert pipeline.sweep(cfg, out, progress=False)["complete"]
    reduce(out)
    res = json.loads((out / "results" / "line_mytask.json").read_text())
    ends = [res["points"][i]["general"] for i in (res["index"]["line"][0], res["index"]["line"][2])]
    middle = res["points"][res["index"]["line"][1]]["general"]
    assert all(e["loss"] is None and e["degenerate"] for e in ends)
    assert middle["loss"] is not None and "degenerate" not in middle


def test_hub_ids_are_known_by_their_cached_snapshot(tmp_path, monkeypatch):
    """A hub id resolves to the snapshot transformers loads offline: its commit and its files'
    contents; a new commit with the same files is not a change, new weights are."""
    import huggingface_hub.constants
    from sitv_dist.sweep.fingerprint import changes, model_identity
    from sitv_dist.sweep.hashing import FileHashes
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    repo = tmp_path / "hub" / "models--org--tiny"

    def publish(commit: str, weights: bytes) -> dict:
        snap = repo / "snapshots" / commit
        snap.mkdir(parents=True)
        (snap / "config.json").write_text('{"model_type": "llama"}')
        (snap / "model.bin").write_bytes(weights)
        (repo / "refs").mkdir(exist_ok=True)
        (repo / "refs" / "main").write_text(commit)
        return model_identity("org/tiny", "", FileHashes(None))
    first = publish("a" * 40, b"weights-1")
    assert first["revision"] == "a" * 40 and first["hub"] == "org/tiny" and set(first["files"]) == {"config.json", "model.bin"}
    same_files = publish("b" * 40, b"weights-1")
    assert changes({"model": first}, {"model": same_files}) == []
    new_weights = publish("c" * 40, b"weights-2")
    assert changes({"model": first}, {"model": new_weights}) == ["model file model.bin: content changed"]
    assert model_identity("org/absent", "", FileHashes(None)) == {"hub": "org/absent",
                                                                  "revision": "unknown (not in the local cache)"}


def test_file_digests_are_cached_by_size_and_mtime(tmp_path):
    from sitv_dist.sweep.hashing import FileHashes
    data = tmp_path / "w.bin"
    data.write_bytes(b"x" * 100)
    cache = tmp_path / "cache.json"
    hashes = FileHashes(cache)
    first = hashes.digest(data)
    hashes.save()
    stored = json.loads(cache.read_text())
    stored[str(data.resolve())]["sha256"] = "cached"             # a cache hit returns what is stored
    cache.write_text(json.dumps(stored))
    assert FileHashes(cache).digest(data) == "cached"
    data.write_bytes(b"y" * 100)                                  # same size, new mtime: re-read
    os.utime(data, ns=(1, 1))
    assert FileHashes(cache).digest(data) not in ("cached", first)


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a read-only filesystem needs root (CI runs as root)")
def test_out_dir_on_a_read_only_filesystem_is_one_early_error(tmp_path, capsys):
    import subprocess
    mnt = tmp_path / "ro"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(mnt)], check=True)
    try:
        assert main(["sweep", "--set", f"out_dir={mnt / 'out'}"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("config error: out_dir: cannot write to")
        assert "Read-only file system" in err[0]
    finally:
        subprocess.run(["umount", str(mnt)], check=True)
