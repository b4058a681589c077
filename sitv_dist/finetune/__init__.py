"""Fine-tuning a causal LM on a task: the training loop (`loop`), how a step runs on one
process, DDP ranks or DeepSpeed ZeRO (`backends`), checkpoints and exact resume
(`checkpoint`), and one task start to end, task vector included (`task`)."""
