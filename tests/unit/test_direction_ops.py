"""The direction-op registry: every op documents its keys, config entries written by earlier
versions (every key of every op, unset ones at their defaults) read back as the same spec, and
the reference lists what the registry holds."""
from __future__ import annotations

import pytest

from sitv_dist.config import ConfigError
from sitv_dist.vectors.ops.ops_registry import DENSITY_OPS, OPS, normalize, reference

# An entry as OUT/config.yaml held it before the registry: every key of every op.
OLD_DUMP = {"negate": "", "sum": [], "difference": [], "random": "", "normalize": "global", "one_d": "", "seed": 0,
            "ties": [], "dare_linear": [], "dare_ties": [], "magnitude_prune": "", "weights": [], "density": 1.0,
            "restrict": "", "include": "", "exclude": "", "group": []}


@pytest.mark.parametrize("given, spec", [
    ({"negate": "a"}, {"negate": "a"}),
    ({"random": "a", "normalize": "filter", "seed": 1}, {"random": "a", "normalize": "filter", "seed": 1}),
    ({"random": "a"}, {"random": "a", "normalize": "global", "seed": 0}),
    ({"dare_ties": ["a", "b"], "density": 0.5, "seed": 3},
     {"dare_ties": ["a", "b"], "density": 0.5, "weights": [1.0, 1.0], "seed": 3}),
    ({"ties": ["a", "b"], "weights": [1.0, 0.5]}, {"ties": ["a", "b"], "density": 1.0, "weights": [1.0, 0.5]}),
    ({"magnitude_prune": "a", "density": 0.1}, {"magnitude_prune": "a", "density": 0.1}),
    ({"restrict": "a", "group": ["mlp"], "exclude": "norm"}, {"restrict": "a", "exclude": "norm", "group": ["mlp"]}),
])
def test_an_old_full_dump_reads_back_as_the_same_spec(given, spec):
    assert normalize(given, "k") == spec
    assert normalize(OLD_DUMP | given, "k") == spec


def test_every_op_documents_its_keys_and_the_reference_lists_them():
    text = reference()
    for name, op in OPS.items():
        assert op.name == name and op.doc and op.label or not op.keys
        assert f"- `{name}`" in text
        for key, spec in op.keys.items():
            assert spec.doc and f"  - `{key}` (default `{spec.default!r}`): {spec.doc}" in text
    assert DENSITY_OPS == ("ties", "dare_linear", "dare_ties", "magnitude_prune", "breadcrumbs")


def test_an_unknown_key_names_itself():
    with pytest.raises(ConfigError, match=r"k: unknown key\(s\) \['densty'\] for a 'ties' direction"):
        normalize({"ties": ["a"], "densty": 0.5}, "k")
    with pytest.raises(ConfigError, match="k: give exactly one of random, negate"):
        normalize({"densty": 0.5}, "k")
