"""Everything distributed lives here: which shards a process owns (`where`), and the
launchers that start workers — local processes, torchrun ranks, Slurm array tasks."""
