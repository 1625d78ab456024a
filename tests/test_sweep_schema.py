"""docs/sweep.schema.json (editor completion for sweep files) agrees with lrsweep.config.

Three checks: the schema accepts every sweep file in ``sweeps/`` and every resolved ``results/*/sweep.toml``;
each key that ``config.py`` accepts (its top-level set and the key tuples its table readers test against)
is a property of the schema at the same place, and no table closed in the schema has a key that config refuses;
sweeps that config refuses for a wrong key or value are refused by the schema too.
"""

import ast
import json
import tomllib
from pathlib import Path

import jsonschema
import pytest

import lrsweep

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((ROOT / "docs" / "sweep.schema.json").read_text())
VALIDATOR = jsonschema.Draft7Validator(SCHEMA)

# config.py's readers of the closed tables, and the table each reads
READERS = {"_init_spec": "init", "_criteria": "criteria", "_run_spec": "run", "_boundary_spec": "boundary"}

FILES = sorted((ROOT / "sweeps").glob("*.toml")) + sorted((ROOT / "results").glob("*/sweep.toml"))


def _config_key_sets() -> dict[str, set[str]]:
    """``{"": top-level keys, table: keys}`` read from config.py's source: ``_TOP_KEYS`` and, in each reader,
    the tuple in ``if k not in (...)``; the trajectory reader's reserved keys too."""
    tree = ast.parse((ROOT / "lrsweep" / "config.py").read_text())
    sets: dict[str, set[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "_TOP_KEYS" for t in node.targets):
            sets[""] = set(ast.literal_eval(node.value))
        if isinstance(node, ast.FunctionDef) and node.name in READERS:
            for sub in ast.walk(node):
                if isinstance(sub, ast.Compare) and isinstance(sub.ops[0], ast.NotIn) \
                        and isinstance(sub.comparators[0], ast.Tuple):
                    sets[READERS[node.name]] = set(ast.literal_eval(sub.comparators[0]))
        if isinstance(node, ast.FunctionDef) and node.name == "_trajectory_spec":
            for sub in ast.walk(node):
                if isinstance(sub, ast.Compare) and isinstance(sub.ops[0], ast.NotIn) \
                        and isinstance(sub.comparators[0], ast.Tuple):
                    sets["trajectories"] = set(ast.literal_eval(sub.comparators[0]))
    return sets


def test_config_key_sets_were_found():
    sets = _config_key_sets()
    assert set(sets) == {"", *READERS.values(), "trajectories"}
    assert {"name", "steps", "loss", "axes"} <= sets[""] and "chunk_size" in sets["run"]


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_schema_accepts_every_sweep_file(path):
    raw = tomllib.loads(path.read_text())
    errors = [f"{'.'.join(map(str, e.path))}: {e.message}" for e in VALIDATOR.iter_errors(raw)]
    assert not errors, errors


def test_every_key_config_accepts_is_in_the_schema():
    props = SCHEMA["properties"]
    for table, keys in _config_key_sets().items():
        where = props if table == "" else props[table]["properties"]
        missing = keys - set(where)
        assert not missing, f"{table or 'top level'}: {sorted(missing)} accepted by config.py, not in the schema"
        closed = table == "" or props[table].get("additionalProperties") is False
        if closed:  # nothing the schema offers for completion that config would refuse
            assert set(where) <= keys, f"{table or 'top level'}: {sorted(set(where) - keys)} not accepted by config"


BASE = {"name": "s", "steps": 5, "loss": {"name": "quadratic", "curvatures": [1.0]},
        "axes": {"learning_rate": {"min": 0.1, "max": 1.0, "num": 4}}}


@pytest.mark.parametrize("change", [
    {"stpes": 5},                                                     # unknown top-level key
    {"dtype": "float16"},
    {"steps": 0},
    {"run": {"chunk": 10}},
    {"criteria": {"diverge_factor": 1.0}},
    {"boundary": {"max_round": 3}},
    {"boundary": {"sharpness": "no"}},
    {"boundary": {"sensitivity_range": [0.3]}},
    {"boundary": {"sensitivity_range": [0.0, 0.3]}},
    {"boundary": {"sensitivity_loss": 3}},
    {"init": {"point": [[1.0]]}},
    {"axes": {"learning_rate": {"min": 0.1, "max": 1.0, "num": 4, "scale": "logarithmic"}}},
    {"axes": {"learning_rate": {"min": 0.1, "max": 1.0}}},             # no num
], ids=lambda c: json.dumps(c))
def test_schema_refuses_what_config_refuses(change):
    raw = {**BASE, **change}
    with pytest.raises((lrsweep.SweepError, ValueError)):
        lrsweep.from_dict(raw)
    assert list(VALIDATOR.iter_errors(raw)), "the schema accepted a sweep that lrsweep refuses"
    assert not list(VALIDATOR.iter_errors(BASE))
