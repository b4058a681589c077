"""The experiment's configuration: dataclasses with a docstring under every field, one YAML
format, `--set` overrides, and all validation, run before any model loads.

A leaf of the import graph: nothing here imports the rest of the project.

- `checks`: the error type, the vocabulary (dtypes, embedded task names), small validators
- `experiment`, `sweep`: the sections and `ExperimentConfig`
- `specs`: derived-direction specs; `deepspeed`: a user's DeepSpeed JSON
- `load`: YAML + overrides -> validated config, and back to YAML
- `reference`: the key reference printed by `sitv config-reference`
"""
from .checks import DTYPES, EMBEDDED_TASKS, ConfigError
from .experiment import (EmbeddedConfig, EvalConfig, ExperimentConfig, FinetuneConfig, LmEvalConfig, ModelConfig,
                         TaskConfig)
from .load import dump, from_dict, load_config, read_resolved, to_dict
from .reference import reference
from .range import RangeConfig
from .sweep import DerivedDirectionConfig, GridConfig, SlurmConfig, SweepConfig

__all__ = ["DTYPES", "EMBEDDED_TASKS", "ConfigError", "DerivedDirectionConfig", "EmbeddedConfig", "EvalConfig",
           "ExperimentConfig", "FinetuneConfig", "GridConfig", "LmEvalConfig", "ModelConfig", "RangeConfig",
           "SlurmConfig", "SweepConfig", "TaskConfig", "dump", "from_dict", "load_config", "read_resolved", "reference", "to_dict"]
