"""Sweep files: every key parsed, every bad input a one-line error naming file and field, nothing written."""

import textwrap

import pytest

import lrsweep
from lrsweep.cli import main
from lrsweep.config import SweepError, load_sweep

GOOD = """
name  = "t"
steps = 20
[loss]
name = "quadratic"
curvatures = [1.0, 10.0]
[init]
points = [[1.0, 1.0]]
[optimizer]
name = "sgd"
[axes]
learning_rate = { min = 1e-3, max = 1.0, num = 8, scale = "log" }
momentum      = { values = [0.0, 0.9] }
"""


def write(tmp_path, text, name="s.toml"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


def test_good_file_and_overrides(tmp_path):
    spec = load_sweep(write(tmp_path, GOOD), ["steps=7", "axes.learning_rate.num=4", "optimizer.nesterov=true"])
    assert spec.steps == 7 and spec.shape == (4, 2) and spec.optimizer.params == {"nesterov": True}
    assert spec.axis("learning_rate").values[0] == pytest.approx(1e-3)
    assert spec.boundary.axis == "learning_rate" and spec.criteria.diverge_factor == 1e6


def test_resolved_definition_round_trips(tmp_path):
    """sweep.toml written beside the results reads back into the same spec."""
    import tomllib

    spec = load_sweep(write(tmp_path, GOOD))
    again = lrsweep.from_dict(tomllib.loads(spec.to_toml()), source=spec.source)
    assert again == spec


def test_a_boolean_axis_is_a_switch_written_back_as_booleans():
    """``[false, true]`` is swept as 0.0 / 1.0 and sweep.toml writes it back as it was given."""
    import tomllib

    raw = {"name": "s", "steps": 5, "loss": {"name": "quadratic", "curvatures": [1.0]}, "init": {"points": [[1.0]]},
           "axes": {"learning_rate": [0.1, 0.5], "init.scale": [True, False]}}
    spec = lrsweep.from_dict(raw)
    a = spec.axis("init.scale")
    assert a.values == (1.0, 0.0) and a.scale == "switch" and not a.is_log
    assert tomllib.loads(spec.to_toml())["axes"]["init.scale"] == {"values": [True, False]}
    assert lrsweep.from_dict(tomllib.loads(spec.to_toml())) == spec


@pytest.mark.parametrize("values, expected", [
    ([0, True], "all numbers or all true/false"),
    ([True, True], "distinct switch values"),
    ({"values": [False, True], "scale": "log"}, "no scale for a switch"),
])
def test_a_bad_switch_axis_is_one_line(values, expected):
    raw = {"name": "s", "steps": 5, "loss": {"name": "quadratic", "curvatures": [1.0]}, "init": {"points": [[1.0]]},
           "axes": {"learning_rate": [0.1], "init.scale": values}}
    with pytest.raises(SweepError, match=expected) as e:
        lrsweep.from_dict(raw)
    assert "axes.init.scale" in str(e.value) and "\n" not in str(e.value)


BAD = [
    ("unknown optimizer", ('name = "sgd"', 'name = "sgdx"'), "optimizer.name"),
    ("unknown axis", ("momentum      =", "bogus         ="), "axes.bogus"),
    ("negative num", ("num = 8", "num = -3"), "axes.learning_rate.num"),
    ("min > max", ("min = 1e-3, max = 1.0", "min = 2.0, max = 1.0"), "axes.learning_rate.min"),
    ("log min <= 0", ("min = 1e-3", "min = 0.0"), "axes.learning_rate.min"),
    ("unknown loss", ('name = "quadratic"', 'name = "quadratik"'), "loss.name"),
    ("import failure", ('name = "quadratic"', 'name = "no_such_module_xyz:f"'), "loss.name"),
    ("empty grid", ("momentum      = { values = [0.0, 0.9] }", "momentum      = { values = [] }"), "axes.momentum"),
    ("steps <= 0", ("steps = 20", "steps = 0"), "steps"),
    ("unknown loss parameter", ("curvatures = [1.0, 10.0]", "curvatures = [1.0, 10.0]\nwidth = 3"), "loss.width"),
    ("structural loss axis", ("momentum      =", '"loss.curvatures" ='), "axes.loss.curvatures"),
    ("boundary axis not swept", ("[axes]", "[boundary]\naxis = \"b1\"\n[axes]"), "boundary.axis"),
    ("bad dtype", ('steps = 20', 'steps = 20\ndtype = "float16"'), "dtype"),
    ("bad init point", ("points = [[1.0, 1.0]]", "points = [[1.0, 1.0], [2.0]]"), "init.points[1]"),
    ("trajectory metrics", ("[axes]", "[trajectories]\nlearning_rate = [0.1]\nmetrics = \"all\"\n[axes]"),
     "trajectories.metrics"),
    ("repeated metric", ("[axes]", "[trajectories]\nlearning_rate = [0.1]\nmetrics = [\"a\", \"a\"]\n[axes]"),
     "trajectories.metrics"),
]


@pytest.mark.parametrize("what,edit,field", BAD, ids=[b[0] for b in BAD])
def test_bad_input_names_file_and_field(tmp_path, capsys, what, edit, field):
    path = write(tmp_path, GOOD.replace(*edit))
    with pytest.raises(SweepError) as e:
        load_sweep(path)
    msg = str(e.value)
    assert msg.startswith(str(path)) and field in msg and "\n" not in msg
    assert "expected" in msg or "cannot" in msg
    # the CLI: exit status 2, one line on stderr, nothing under results/
    out = tmp_path / "results"
    assert main(["run", str(path), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("lrsweep: error: ") and field in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_malformed_toml_reports_its_line(tmp_path, capsys):
    path = write(tmp_path, GOOD.replace("[optimizer]", "[optimizer\n"))
    assert main(["run", str(path), "--out", str(tmp_path / "r"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "malformed TOML" in err and "line" in err and str(path) in err
    assert not (tmp_path / "r").exists()


def test_loss_returning_non_scalar(tmp_path, monkeypatch, capsys):
    (tmp_path / "vecloss.py").write_text("def f(x):\n    return x * 2\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    path = write(tmp_path, GOOD.replace('name = "quadratic"\ncurvatures = [1.0, 10.0]', 'name = "vecloss:f"'))
    assert main(["run", str(path), "--out", str(tmp_path / "r"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "loss.name" in err and "scalar" in err and "shape (2,)" in err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("loss,init,expected", [
    ('name = "rosenbrock"', "points = [[1.0, 2.0, 3.0]]", "points of dimension 2"),
    ('name = "mlp"\nwidth = 4', "points = [[1.0]]", "initialises its own parameters"),
    ('name = "vecloss2:f"', "scale = 1.0", "initial points"),
])
def test_initial_points_must_fit_the_loss(tmp_path, monkeypatch, capsys, loss, init, expected):
    (tmp_path / "vecloss2.py").write_text("def f(x):\n    return (x ** 2).sum()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    text = GOOD.replace('name = "quadratic"\ncurvatures = [1.0, 10.0]', loss).replace("points = [[1.0, 1.0]]", init)
    text = text.replace('momentum      = { values = [0.0, 0.9] }', "")
    path = write(tmp_path, text)
    assert main(["run", str(path), "--out", str(tmp_path / "r"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "init.points" in err and expected in err
    assert not (tmp_path / "r").exists()


def test_missing_file(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.toml"), "--quiet"]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_bad_loss_value(tmp_path, capsys):
    path = write(tmp_path, GOOD.replace("curvatures = [1.0, 10.0]", "curvatures = [1.0, 10.0]\ncurvature_scale = -1.0"))
    assert main(["run", str(path), "--out", str(tmp_path / "r"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "curvature_scale" in err and str(path) in err
    assert not (tmp_path / "r").exists()


def test_override_names_a_dotted_axis(tmp_path):
    """`--set axes.schedule.factor.values=[...]` sweeps the axis `schedule.factor`, not a field of `schedule`."""
    text = GOOD.replace('name = "sgd"', 'name = "sgd"\n[schedule]\nname = "reduce_on_plateau"')
    spec = load_sweep(write(tmp_path, text), ["axes.schedule.factor.values=[0.2, 0.5]",
                                              'axes."loss.curvature_scale"={ values = [1.0, 2.0] }'])
    assert spec.axis("schedule.factor").values == (0.2, 0.5)
    assert spec.axis("loss.curvature_scale").values == (1.0, 2.0)


def test_swept_schedule_value_out_of_range(tmp_path, capsys):
    """A swept schedule parameter is checked at every value: the error names the axis, nothing is written."""
    text = GOOD.replace('name = "sgd"', 'name = "sgd"\n[schedule]\nname = "reduce_on_plateau"')
    path, out = write(tmp_path, text), tmp_path / "results"
    assert main(["run", str(path), "--out", str(out), "--quiet",
                 "--set", "axes.schedule.factor={ values = [0.5, 1.5] }"]) == 2
    err = capsys.readouterr().err.strip()
    assert f"{path}: axes.schedule.factor:" in err and "factor=1.5" in err and "(0, 1)" in err
    assert len(err.splitlines()) == 1 and not out.exists()


def test_categorical_schedule_axis_rejects_other_keys(tmp_path):
    text = GOOD.replace("momentum      = { values = [0.0, 0.9] }",
                        'schedule = { values = ["constant"], factor = 2 }')
    with pytest.raises(SweepError, match=r"axes\.schedule\.factor: expected only `values`"):
        load_sweep(write(tmp_path, text))


def test_to_toml_is_the_only_spec_writer():
    """One home: ``SweepSpec.to_toml`` is the only place in the package that writes TOML."""
    from pathlib import Path

    pkg = Path(lrsweep.__file__).parent
    writers = sorted(p.name for p in pkg.glob("*.py") if "tomli_w" in p.read_text())
    assert writers == ["config.py"]


def test_one_key_value_parser_for_every_option(capsys):
    """``run --set`` and ``suggest --set/--opt/--init`` read ``KEY=VALUE`` with one parser: TOML values,
    bare words as stripped strings, a missing ``=`` or key refused with the option named."""
    from lrsweep.cli import main
    from lrsweep.config import SweepError, assignment, assignments

    assert assignments(["a = 1", "b=relu ", "a=[1, 2]"], "--opt") == {"a": [1, 2], "b": "relu"}
    for bad in ("steps", "=3", " = 3"):
        with pytest.raises(SweepError, match=r"^--init .*: expected KEY=VALUE$"):
            assignment(bad, "--init")
    assert main(["run", "sweeps/x2-gd.toml", "--quiet", "--set", "steps"]) == 2
    assert main(["suggest", "quadratic", "--opt", "b1"]) == 2
    err = capsys.readouterr().err
    assert "--set 'steps': expected KEY=VALUE" in err and "--opt 'b1': expected KEY=VALUE" in err


@pytest.mark.parametrize("axis, log", [
    ({"min": 1e-3, "max": 1.0, "num": 4, "scale": "log"}, True),
    ({"min": 1e-3, "max": 1.0, "num": 4}, False),                      # linear, even over three decades
    ({"values": [1e-3, 1e-2, 1e-1, 1.0], "scale": "linear"}, False),  # declared linear wins
    ({"values": [1e-4, 3e-4, 1e-3, 3e-3, 1e-2]}, True),                # hand-picked decades
    ({"values": [0.5, 1.0, 2.0]}, True),                               # geometric, narrow
    ({"values": [0.1, 0.2, 0.3, 0.4]}, False),
    ({"values": [0.5, 0.8, 1.0, 1.2]}, False),
    ({"values": [0.0, 1e-3, 1e-2, 1e-1]}, False),                      # zero: no log axis
    ({"values": [1e-3, 1.0]}, False),                                  # two values: no spacing to read
])
def test_axis_is_log_is_decided_once(axis, log):
    """``Axis.is_log`` is the one rule figures, the boundary search and zooms read."""
    spec = lrsweep.from_dict({"name": "q", "steps": 3, "loss": {"name": "quadratic"},
                              "axes": {"learning_rate": axis}})
    assert spec.axis("learning_rate").is_log is log


def test_axis_route_is_parsed_once():
    """Each axis carries its route; a bare name is the optimizer's hyperparameter."""
    from lrsweep.config import Route

    spec = lrsweep.from_dict({"name": "q", "steps": 3, "loss": {"name": "quadratic"},
                              "schedule": {"name": "exponential"},
                              "axes": {"learning_rate": [0.1], "optimizer.momentum": [0.0, 0.5],
                                       "loss.curvature_scale": [1.0], "schedule.decay_rate": [0.9],
                                       "init.scale": [1.0], "seed": [0, 1]}})
    assert {a.name: a.route for a in spec.axes} == {
        "learning_rate": Route("optimizer", "learning_rate"), "optimizer.momentum": Route("optimizer", "momentum"),
        "loss.curvature_scale": Route("loss", "curvature_scale"),
        "schedule.decay_rate": Route("schedule", "decay_rate"), "init.scale": Route("init", "scale"),
        "seed": Route("seed")}
