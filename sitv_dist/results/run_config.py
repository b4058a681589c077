"""A run's resolved config, for reading its results: the dataclasses when the file converts
(:func:`sitv_dist.config.read_resolved`), the raw YAML when it does not (an older or
hand-written file), and the text itself (the report shows it). The report and the
comparison read the config through here, so both fall back the same way."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import yaml

from ..config import ConfigError, ExperimentConfig, read_resolved
from ..outdir import OutDir


@dataclass
class RunConfig:
    text: str | None = None
    """The file's text; None when the run has no resolved config."""
    raw: Any = None
    """The parsed YAML, whatever it holds."""
    resolved: ExperimentConfig | None = None
    """The dataclasses (not validated); None when the file is absent, empty or does not convert."""

    @classmethod
    def read(cls, out_dir: "str | os.PathLike | OutDir") -> "RunConfig":
        path = OutDir(out_dir).config
        if not path.is_file():
            return cls()
        text = path.read_text(encoding="utf-8")
        raw = yaml.safe_load(text)
        resolved = None
        if isinstance(raw, dict) and raw:
            try:
                resolved = read_resolved(path)
            except ConfigError:
                resolved = None
        return cls(text, raw, resolved)

    def _raw(self) -> dict:
        return self.raw if isinstance(self.raw, dict) else {}

    def _raw_section(self, key: str) -> dict:
        section = self._raw().get(key)
        return section if isinstance(section, dict) else {}

    def name(self) -> str | None:
        """The experiment's name (raw YAML: ``name`` or ``experiment.name``)."""
        if self.resolved is not None:
            return self.resolved.name
        return self._raw().get("name") or self._raw_section("experiment").get("name")

    def model(self) -> str | None:
        """The base model's ``name_or_path``."""
        if self.resolved is not None:
            return self.resolved.model.name_or_path
        return self._raw_section("model").get("name_or_path")

    def task_vectors(self) -> dict:
        """``sweep.task_vectors``: direction name -> task-vector file given in the config."""
        if self.resolved is not None:
            return dict(self.resolved.sweep.task_vectors)
        explicit = self._raw_section("sweep").get("task_vectors")      # the config key, not OUT's folder
        return explicit if isinstance(explicit, dict) else {}
