"""The experiment's configuration: dataclasses with a docstring under every field, one YAML
format, `--set` overrides, and the validation of every section, run before any model loads
(the direction ops check their own entries: `sitv_dist.vectors.ops.ops_registry.check_config`).

A leaf of the import graph: nothing here imports the rest of the project.

- `checks`: the error type, the vocabulary (dtypes, embedded task names), small validators
- `experiment`, `sweep_section`: the sections and `ExperimentConfig`
- `merge_sweep`: merge sweeps (a density axis); `range`: coefficient ranges; `deepspeed`: a user's DeepSpeed JSON
- derived-direction entries are mappings checked by their ops (`sitv_dist.vectors.ops`)
- `load`: YAML + overrides -> validated config, and back to YAML
- `reference`: the key reference printed by `sitv config-reference`
"""
from .checks import DTYPES, EMBEDDED_TASKS, ConfigError
from .experiment import (EmbeddedConfig, EvalConfig, ExperimentConfig, FinetuneConfig, LmEvalConfig, ModelConfig,
                         TaskConfig)
from .load import config_from_data, dump, from_dict, load_config, read_resolved, set_key, to_dict
from .reference import reference
from .range import RangeConfig
from .sweep_section import GridConfig, SlurmConfig, SweepConfig
from .tracking import TrackingConfig

__all__ = ["DTYPES", "EMBEDDED_TASKS", "ConfigError", "EmbeddedConfig", "EvalConfig",
           "ExperimentConfig", "FinetuneConfig", "GridConfig", "LmEvalConfig", "ModelConfig", "RangeConfig",
           "SlurmConfig", "SweepConfig", "TaskConfig", "TrackingConfig", "config_from_data", "dump", "from_dict", "load_config", "read_resolved", "reference", "set_key", "to_dict"]
