"""The faults that tests try — kills of every stage, full disks in every phase that writes, state
in OUT that must not be trusted — as rows of docs/faults.md's second table (scripts/faults.py
renders it). Each row names its test; the unit tests check that every test named exists, and
the tests themselves assert the message, that nothing finished is lost and nothing is written
beside OUT (or in HOME, where a test watches it).
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NO_SPACE = ("(N free, M needed); free space on that filesystem (or raise the quota) and rerun: finished files "
            "are kept and nothing half-written is reused")


@dataclass
class Tested:
    fault: str
    phase: str
    sees: str           # what the user sees
    kept: str           # what was kept (and what the rerun does)
    test: str           # tests/…/file.py::function[id,…]
    answer: str = "error"   # "error": one error line; "warning": one warning line, exit 0; "kill": none


KILLED = "killed (exit -9 / -15); the rerun (`sitv run` again) ends with 0"
KILLS = "tests/integration/test_faults_kills.py::test_a_killed_run_resumes_without_redoing_finished_work"
DISK = "tests/integration/test_faults_disk.py::"
TESTED = [
    Tested("SIGKILL / SIGTERM during fine-tuning", "fine-tuning", KILLED,
           "every finished task's vector (same bytes and mtime); no point evaluated twice; report complete",
           f"{KILLS}[finetune-SIGKILL,finetune-SIGTERM]", "kill"),
    Tested("SIGKILL / SIGTERM during fine-tuning with `finetune.checkpoint_every`", "fine-tuning", KILLED,
           "the same; the task in progress resumes from its last complete checkpoint",
           f"{KILLS}[finetune-checkpointed-SIGKILL,finetune-checkpointed-SIGTERM]", "kill"),
    Tested("SIGKILL / SIGTERM while `sitv taskvector` writes T (16 MB)", "task vector",
           "killed; T absent, never half (a hidden `.T.safetensors.*.tmp` may stay)",
           "the rerun writes the same T",
           "tests/integration/test_faults_taskvector.py::test_a_kill_while_writing_a_task_vector_leaves_it_absent_"
           "or_whole[SIGKILL,SIGTERM]", "kill"),
    Tested("SIGKILL / SIGTERM during the sweep", "sweep", KILLED, "every finished point (none evaluated twice)",
           f"{KILLS}[sweep-SIGKILL,sweep-SIGTERM]", "kill"),
    Tested("SIGKILL / SIGTERM during a refinement round", "refinement", KILLED,
           "every finished point, refined ones too", f"{KILLS}[refine-SIGKILL,refine-SIGTERM]", "kill"),
    Tested("SIGKILL / SIGTERM during the derivatives", "derivatives", KILLED,
           "every finished entry of derivatives.json (rewritten atomically after each)",
           f"{KILLS}[derivatives-SIGKILL,derivatives-SIGTERM]", "kill"),
    Tested("SIGKILL / SIGTERM while the report is written", "report", KILLED,
           "points and results; the rerun's report is complete", f"{KILLS}[report-SIGKILL,report-SIGTERM]", "kill"),
    Tested("SIGKILL / SIGTERM while `sitv compare` writes its figures", "compare",
           "killed; every file it left is whole (figures, compare.json, compare.md are written atomically)",
           "the compared runs untouched; the rerun writes what an uninterrupted compare writes",
           "tests/integration/test_faults_compare.py::test_a_killed_compare_leaves_nothing_half_written_and_the_"
           "rerun_completes[SIGKILL,SIGTERM]", "kill"),
    Tested("full disk (96 KiB tmpfs) during `sitv sweep`", "sweep",
           f"exit 1: error: no space left on device writing OUT/… {NO_SPACE}",
           "every finished point; no temp file; after space is freed the rerun evaluates only the missing ones",
           f"{DISK}test_full_disk_during_a_sweep_is_one_line_and_loses_nothing"),
    Tested("full disk (256 KiB tmpfs) while a fine-tune writes a checkpoint", "fine-tuning",
           "exit 1: error: no space left on device writing OUT/finetune/TASK/checkpoint/step-00000002/"
           f"train_state.pt {NO_SPACE}",
           "no half checkpoint and no `latest` left, the task not marked done; after space is freed the rerun ends",
           f"{DISK}test_full_disk_while_fine_tuning_is_one_line_and_the_rerun_completes[checkpoint]"),
    Tested("full disk (128 KiB tmpfs) while the fine-tuned model is saved", "fine-tuning",
           f"exit 1: error: no space left on device writing OUT/finetune/TASK/model {NO_SPACE}",
           "the task not marked done (no task vector, no history); after space is freed the rerun ends",
           f"{DISK}test_full_disk_while_fine_tuning_is_one_line_and_the_rerun_completes[model]"),
    Tested("full disk while `sitv report` writes its plots", "report",
           f"exit 1: error: no space left on device writing OUT/plots/….png {NO_SPACE}",
           "every point and results file; no temp file or half image; after space is freed the rerun writes the "
           "same plots and the report",
           f"{DISK}test_full_disk_while_writing_plots_or_the_report_is_one_line_and_the_rerun_completes[plots]"),
    Tested("full disk while `sitv report` writes analysis.json (the plots fit)", "report",
           f"exit 1: error: no space left on device writing OUT/analysis.json {NO_SPACE}",
           "the same; no report.md until the rerun writes it whole",
           f"{DISK}test_full_disk_while_writing_plots_or_the_report_is_one_line_and_the_rerun_completes"
           "[analysis.json]"),
    Tested("full disk at fsync (as NFS reports it)", "any write",
           "the OSError names the final path and the bytes needed (printed as the line above)",
           "the previous file's content; no temp file",
           "tests/unit/test_faults.py::test_full_disk_keeps_the_old_file_and_leaves_no_temp"),
    Tested("a point file from another experiment copied into OUT/points (same id, another fingerprint)", "sweep",
           "exit 0 and warning: 1 point file(s) in OUT/points come from another experiment (another model, "
           "direction or eval set), e.g. p….json; they are evaluated again and replaced",
           "every other point byte for byte; that one alone evaluated again",
           "tests/unit/test_faults_outdir_state.py::test_a_point_file_from_another_experiment_is_recomputed_and_"
           "the_rest_kept", "warning"),
    Tested("a results file older than its points (a point written again, or planned, since the reduce)", "report",
           "`sitv export` etc.: exit 2, error: OUT/results/SWEEP.json is older than its points (a point file was "
           "written again since the reduce); run `sitv reduce OUT` (or `sitv report OUT`, which rebuilds it) first;"
           " `sitv report` reduces it again (a sweep with points missing since: reported pending)",
           "every point file; the report shows the new values",
           "tests/unit/test_faults_outdir_state.py::test_a_results_file_older_than_its_points_is_never_served"),
    Tested("a truncated point file", "sweep", "exit 0; the next sweep evaluates it again",
           "every other point; that one alone evaluated again",
           "tests/unit/test_sweep.py::test_corrupt_point_file_is_recomputed", "recovers"),
    Tested("a hand-edited plan.json", "sweep",
           "exit 2: config error: out_dir: OUT holds results that this config would change: …",
           "every point file byte for byte",
           "tests/integration/test_faults_state.py::test_a_hand_edited_plan_is_refused_in_one_line_and_loses_nothing"),
    Tested("two `sitv run` on one OUT at once", "out dir",
           "exit 2: error: OUT/locks/run.lock is held: another `sitv run` is using OUT; wait for it to end (its "
           "finished work is reused) or choose another out_dir",
           "the first run's work", "tests/unit/test_faults.py::test_a_second_sitv_run_on_one_out_dir_refuses_with_"
           "one_line"),
    Tested("a filesystem without locks", "out dir",
           "warning: OUT/locks does not support file locks; concurrent sweeps on this out_dir may evaluate points "
           "twice (once), then it runs unlocked", "everything (results stay correct)",
           "tests/unit/test_faults.py::test_a_filesystem_without_locks_gets_one_warning_line", "warning"),
]
TESTED_HEADER = """
## Faults the tests try

Kills, full disks on a real tmpfs in every phase that writes, and state in OUT that must not be
trusted: each row is one test (its parameters in brackets), which asserts the message, that
nothing finished is lost and that nothing is written beside OUT. `OUT` is the output directory.

"""


def missing_tests() -> list[str]:
    """Rows whose test (file, function or parameter id) does not exist."""
    missing = []
    for t in TESTED:
        path, _, rest = t.test.partition("::")
        name, _, ids = rest.partition("[")
        file = ROOT / path
        if not file.is_file():
            missing.append(t.test)
            continue
        source = file.read_text()
        functions = {n.name for n in ast.walk(ast.parse(source)) if isinstance(n, ast.FunctionDef)}
        params = [i for i in ids.rstrip("]").split(",") if i]
        if name not in functions or any(not all(part in source for part in _id_parts(i)) for i in params):
            missing.append(t.test)
    return missing


def _id_parts(param_id: str) -> list[str]:
    """The pieces of a pytest id as they stand in the source ("finetune-SIGKILL": both words)."""
    known = ["finetune-checkpointed", "analysis.json"]
    parts = []
    for k in known:
        if k in param_id:
            parts.append(k)
            param_id = param_id.replace(k, "")
    return parts + [p for p in param_id.split("-") if p]
