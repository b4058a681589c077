"""The memory plans quoted in docs/performance.md: a Gemma-3-12B 2-D sweep on one 80 GB GPU with
dense bf16 task vectors, with rank-16 LoRA adapters, and with 2 GPUs per worker, all from the
public config.json in configs/models/ (no weights anywhere).

The LoRA case needs adapter files (the plan counts adapters by their real size): this writes two
rank-16 adapters on every Linear of the decoder layers (q, k, v, o, gate, up, down), in bf16,
zeros (the plan reads sizes only), the way peft's save_pretrained lays them out.

    python bench/plan_examples.py [--model configs/models/gemma-3-12b] [--device-memory 80]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def zero_adapter(model_dir: str, out: Path, rank: int) -> Path:
    import torch
    from safetensors.torch import save_file
    from transformers import AutoConfig, AutoModelForCausalLM
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(model_dir))
    tensors = {}
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear) and name.rsplit(".", 1)[-1] in TARGETS:
            tensors[f"base_model.model.{name}.lora_A.weight"] = torch.zeros(rank, module.in_features, dtype=torch.bfloat16)
            tensors[f"base_model.model.{name}.lora_B.weight"] = torch.zeros(module.out_features, rank, dtype=torch.bfloat16)
    out.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(out / "adapter_model.safetensors"))
    (out / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": rank, "lora_alpha": 2 * rank,
                                                        "target_modules": list(TARGETS)}))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default=str(ROOT / "configs" / "plan-gemma3-12b-2d.yaml"))
    ap.add_argument("--device-memory", default="80")
    ap.add_argument("--rank", type=int, default=16)
    args = ap.parse_args()
    import yaml
    model_dir = str(ROOT / yaml.safe_load(Path(args.config).read_text())["model"]["name_or_path"])
    tmp = Path(tempfile.mkdtemp(prefix="sitv-plan-"))
    adapters = {t: str(zero_adapter(model_dir, tmp / t, args.rank)) for t in ("sentiment_positive", "sentiment_negative")}
    base = [sys.executable, "-m", "sitv_dist.cli", "plan", "-c", args.config, "--device-memory", args.device_memory,
            "--set", f"model.name_or_path={model_dir}"]
    cases = [("dense bf16 task vectors", []),
             (f"LoRA rank-{args.rank} adapters (all Linear layers of the decoder)",
              ["--set", f"sweep.task_vectors={json.dumps(adapters)}"]),
             ("dense bf16 task vectors, 2 GPUs per worker", ["--set", "sweep.devices_per_worker=2"])]
    for title, extra in cases:
        out = subprocess.run(base + extra, capture_output=True, text=True, cwd=ROOT)
        print(f"## {title}  (exit {out.returncode})\n$ sitv plan -c {Path(args.config).relative_to(ROOT)} "
              f"--device-memory {args.device_memory} {' '.join(extra[1::2]) if extra else ''}".rstrip())
        print(out.stdout.rstrip() + "\n")


if __name__ == "__main__":
    main()
