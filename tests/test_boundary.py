"""Boundary search on synthetic predicates: brackets, non-monotone transitions, refinement to rtol."""

import numpy as np

import lrsweep
from lrsweep import boundary, grid


def spec_for(axes, rtol=1e-6):
    return lrsweep.from_dict({"name": "t", "steps": 10, "loss": {"name": "quadratic", "curvatures": [1.0]},
                              "init": {"points": [[1.0]]}, "axes": axes, "boundary": {"rtol": rtol}})


def fake_evaluate(rule):
    """Metrics whose `diverged` flag is rule(values) — the boundary search sees only these."""
    calls = []

    def evaluate(values):
        calls.append(len(next(iter(values.values()))))
        d = rule(values)
        return {"diverged": d, "growth_rate": np.where(d, 1.0, -1.0)}

    return evaluate, calls


def test_non_monotone_boundary_has_every_transition_refined():
    """Diverged on (1, 2) ∪ (3, ∞): three sign changes, the primary at 1, each refined to rtol."""
    spec = spec_for({"learning_rate": {"min": 0.1, "max": 10.0, "num": 40, "scale": "log"}})
    rule = lambda v: ((v["learning_rate"] > 1) & (v["learning_rate"] < 2)) | (v["learning_rate"] > 3)  # noqa: E731
    evaluate, calls = fake_evaluate(rule)
    metrics = evaluate(grid.configurations(spec))
    b, tr = boundary.locate(spec, metrics, evaluate, batch=64, asymptotic=False, resolution=1e-16)
    assert list(tr["direction"]) == ["diverges", "restabilises", "diverges"]
    np.testing.assert_allclose(tr["critical"], [1.0, 2.0, 3.0], rtol=1e-6)
    assert (tr["lower"] <= np.array([1, 2, 3])).all() and (tr["upper"] >= np.array([1, 2, 3])).all()
    assert ((tr["upper"] - tr["lower"]) / tr["upper"] < 1e-6).all()
    row = b.iloc[0]
    assert row["status"] == "ok" and row["n_transitions"] == 3
    assert row["grid_lower"] < 1 < row["grid_upper"] and abs(row["critical"] - 1) < 1e-6
    # each round is one batch through the evaluator (restabilising brackets are refined in their own pass)
    assert 1 < len(calls) <= 1 + 2 * 64


def test_slices_are_refined_together_and_statuses():
    """Critical value 1/β per slice; a slice that never diverges and one that diverges at the minimum."""
    spec = spec_for({"learning_rate": {"min": 0.5, "max": 8.0, "num": 17},
                     "momentum": {"values": [0.1, 0.25, 0.5, 4.0]}}, rtol=1e-8)
    rule = lambda v: v["learning_rate"] * v["momentum"] > 1  # noqa: E731
    evaluate, calls = fake_evaluate(rule)
    metrics = evaluate(grid.configurations(spec))
    b, _ = boundary.locate(spec, metrics, evaluate, batch=256, asymptotic=False, resolution=1e-16)
    b = b.set_index("momentum")
    assert b.loc[0.1, "status"] == "stable_throughout" and np.isnan(b.loc[0.1, "critical"])
    assert b.loc[4.0, "status"] == "diverges_at_min" and np.isnan(b.loc[4.0, "critical"])
    np.testing.assert_allclose(b.loc[[0.25, 0.5], "critical"], [4.0, 2.0], rtol=1e-8)
    # both open slices share each round: 1 grid call + rounds, not 1 + 2·rounds
    assert len(calls) == 1 + b["refine_rounds"].max()


def test_asymptotic_bracket_ignores_spurious_growth_far_below():
    """`growing` far below the boundary (slow oscillation) must not be taken for the asymptotic edge."""
    spec = spec_for({"learning_rate": {"min": 0.01, "max": 10.0, "num": 64, "scale": "log"}})

    def evaluate(values):
        lr = values["learning_rate"]
        growing = (lr > 1.5) | ((lr > 0.02) & (lr < 0.03))
        return {"diverged": lr > 2.0, "growth_rate": np.where(growing, 1.0, -1.0)}

    b, _ = boundary.locate(spec, evaluate(grid.configurations(spec)), evaluate, batch=64, asymptotic=True,
                           resolution=1e-16)
    assert abs(b.iloc[0]["critical_asymptotic"] - 1.5) < 1e-3 and abs(b.iloc[0]["critical"] - 2.0) < 1e-3


def test_transitions_seen_during_refinement_are_counted():
    """Diverged above 1 except on the window (1.05, 1.06), inside the grid bracket [0.943, 1.061]: the grid
    sees 1 transition, refinement's points see all 3 (n_transitions_refined); the kept one is the first."""
    spec = spec_for({"learning_rate": {"min": 0.1, "max": 10.0, "num": 40, "scale": "log"}})
    rule = lambda v: (v["learning_rate"] > 1) & ~((v["learning_rate"] > 1.05) & (v["learning_rate"] < 1.06))  # noqa: E731
    evaluate, _ = fake_evaluate(rule)
    b, tr = boundary.locate(spec, evaluate(grid.configurations(spec)), evaluate, batch=64, asymptotic=False,
                            resolution=1e-16)
    row = b.iloc[0]
    assert row["grid_lower"] < 1 and row["grid_upper"] > 1.06
    assert row["n_transitions"] == 1 and len(tr) == 1
    assert row["n_transitions_refined"] == 3
    assert abs(row["critical"] - 1) < 1e-6
    # a monotone rule: nothing more to see
    evaluate, _ = fake_evaluate(lambda v: v["learning_rate"] > 1)
    b, _ = boundary.locate(spec, evaluate(grid.configurations(spec)), evaluate, batch=64, asymptotic=False,
                           resolution=1e-16)
    assert b.iloc[0]["n_transitions_refined"] == b.iloc[0]["n_transitions"] == 1
