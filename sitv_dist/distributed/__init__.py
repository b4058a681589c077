"""Everything distributed lives here, below the stages and never importing them: where a
process is (`where`), the launchers that start workers — local processes (`local`), torchrun
ranks (`torchrun`), Slurm array tasks (`slurm`) — and the few collectives the fine-tune
loop uses (`collectives`). What the workers run is the caller's."""
