"""`lrsweep suggest`: the recommendation on a quadratic matches 2/λ_max; the LR finders' rules are the tools' own.

The finders' rules are checked on hand-made records whose answers follow from the rule's definition
(fastai/callback/schedule.py valley, minimum, steep; fastai/learner.py AvgSmoothLoss;
torch_lr_finder/lr_finder.py LRFinder.range_test and plot), and on a quadratic with a known η_c.
"""

import math

import numpy as np
import pytest

from lrsweep import cli
from lrsweep import suggest as sg
from lrsweep.suggest import range_answers, suggest


def test_suggest_on_a_quadratic_matches_two_over_lambda_max():
    """λ = (1, 10, 40): the critical learning rate is 2/40 = 0.05. The suggestion's asymptotic
    critical value matches it to 1e-3 (relative), the sharpness prediction to 1e-6; the finite-horizon
    boundary lies just above (a slowly growing mode needs time to cross the divergence threshold).
    Measured (docs/suggest.md): the lowest raw loss of the ramp lies above η_c, every finder's rule below."""
    s = suggest("quadratic", {"curvatures": [1.0, 10.0, 40.0]}, steps=300, num=32, dtype="float64",
                init={"points": [[1.0, 1.0, 1.0]]}, range_steps=300)
    assert s.critical == pytest.approx(0.05, rel=1e-3) and s.asymptotic
    assert s.sharpness == pytest.approx(40.0, rel=1e-6)
    assert s.sharpness_prediction == pytest.approx(0.05, rel=1e-6)
    assert 0.05 < s.critical_horizon < 0.06
    assert s.recommended == pytest.approx(0.5 * s.critical)
    assert s.range_lag > 1.0 and s.range_best < s.range_stop
    assert set(s.finders) == set(sg.FINDERS)
    for key, lr in s.finders.items():
        assert 0 < lr < s.critical, key
    text = s.text()
    assert "2(1+β)/λ_max" in text and "largest stable learning rate" in text
    assert "fastai valley" in text and "torch-lr-finder steepest gradient" in text and "below it" in text


def test_suggest_with_momentum_uses_heavy_ball_prediction():
    s = suggest("quadratic", {"curvatures": [1.0, 10.0]}, "sgd", {"momentum": 0.5}, steps=300, num=24,
                dtype="float64", init={"points": [[1.0, 1.0]]}, range_steps=100)
    assert s.sharpness_prediction == pytest.approx(0.3, rel=1e-6)  # 2(1+β)/λ_max
    assert s.critical == pytest.approx(0.3, rel=2e-3)


def test_without_a_known_minimum_a_finite_horizon_value_is_not_called_stable():
    """The mlp (no known minimum): η_c is finite-horizon, labelled so; where it exceeds 2/λ_max the text says
    it is not a stable learning rate."""
    s = sg.Suggestion(loss="mlp", optimizer="sgd", critical=0.9, critical_horizon=0.9, critical_bracket=(0.89, 0.91),
                      recommended=0.45, fraction=0.5, sharpness=6.0, sharpness_prediction=2 / 6.0, range_best=0.5,
                      range_stop=1.0, range_lag=0.5 / 0.9, diverge_factor=1e4, status="ok", steps=200,
                      asymptotic=False, finders={k: 0.1 for k in sg.FINDERS})
    text = s.text()
    assert "largest stable learning rate" not in text
    assert "not diverging within 200 steps (finite horizon)" in text
    assert "not a stable learning rate" in text and "0.3333" in text
    below = sg.Suggestion(**{**s.__dict__, "critical": 0.3, "critical_horizon": 0.3})
    assert "not a stable learning rate" not in below.text() and "finite horizon" in below.text()


def test_range_answers():
    lr = np.geomspace(1e-3, 1e1, 5)
    f = np.array([1.0, 0.5, 0.4, 1.7, np.nan])  # 1.7 > 4 × 0.4: stop at the 4th
    assert range_answers(lr, f) == (pytest.approx(lr[2]), pytest.approx(lr[3]))
    assert np.isnan(range_answers(lr, np.array([5.0, 4.0, 3.0, 2.0, 1.0]))[1])


def test_smoothing_is_each_tools_own():
    """fastai: EMA β = 0.98 with bias correction (a constant stays itself; a step is approached as 1 − β^t
    weights say); torch-lr-finder: s_t = 0.05 ℓ_t + 0.95 s_{t−1}, s_0 = ℓ_0, no correction."""
    x = np.array([1.0, 1.0, 3.0])
    v1, v2, v3 = 0.02, 0.98 * 0.02 + 0.02, 0.98 * (0.98 * 0.02 + 0.02) + 0.02 * 3
    np.testing.assert_allclose(sg.smooth_debiased(x), [v1 / 0.02, v2 / (1 - 0.98**2), v3 / (1 - 0.98**3)])
    np.testing.assert_allclose(sg.smooth_plain(x), [1.0, 1.0, 0.05 * 3 + 0.95])
    np.testing.assert_allclose(sg.smooth_debiased(np.full(50, 7.0)), 7.0)


def test_stop_and_trimming():
    """fastai keeps up to the first smoothed loss above 4× the best, then drops num_it//10 at the start and 5 at
    the end; torch-lr-finder stops at 5× and plots [10:-5]."""
    assert sg.stopped(np.array([2.0, 1.0, 4.0, 4.5, 1.0]), 4.0) == 4
    assert sg.stopped(np.array([2.0, 1.0, 4.0, 4.5, 1.0]), 5.0) == 5
    lr = np.geomspace(1e-4, 1.0, 100)
    f = np.ones(100)
    fl, fs = sg.fastai_record(lr, f)
    assert len(fl) == 100 - 10 - 5 and fl[0] == lr[10]
    tl, _ = sg.torch_record(lr, f)
    assert len(tl) == 85 and tl[0] == lr[10]
    f[60:] = np.inf  # blows up at 60: the smoothed loss follows at once (inf), both tools stop there
    assert len(sg.fastai_record(lr, f)[0]) == 61 - 10 - 5
    assert len(sg.torch_record(lr, f)[0]) == 61 - 10 - 5


def test_finder_rules_on_a_made_up_curve():
    """Loss 1 up to lr[19], then a smooth drop 1 − 0.9 σ((ln η − c)/w) steepest at c (0.3 of a grid step above
    ln lr[55]) down to lr[80], then a steep rise. steep (forward differences in ln η) and torch's steepest
    (central differences in the index) both land on lr[55]; minimum is lr[80]/10; valley is ⌊k/3⌋ + ⌊k/6⌋
    points into the decreasing run, counted (as fastai does) from one point before it: 18 (k = 80 − 18)."""
    lr = np.geomspace(1e-5, 1.0, 101)
    u = np.log(lr)
    du = u[1] - u[0]
    c = u[55] + 0.3 * du
    drop = 1.0 - 0.9 / (1.0 + np.exp(-(u - c) / (8 * du)))
    f = np.where(np.arange(101) < 20, 1.0, drop)
    f = np.where(np.arange(101) > 80, f[80] + 5 * (u - u[80]), f)
    assert np.all(np.diff(f[19:81]) < 0) and np.argmin(f) == 80
    assert sg.fastai_steep(lr, f) == pytest.approx(lr[55])
    assert sg.torch_steepest(lr, f) == pytest.approx(lr[55])
    assert sg.fastai_minimum(lr, f) == pytest.approx(lr[80] / 10)
    k = (80 - 18) / 3
    assert sg.fastai_valley(lr, f) == pytest.approx(lr[18 + int(k) + int(k / 2)])
    assert math.isnan(sg.fastai_steep(lr[:1], f[:1])) and math.isnan(sg.fastai_valley(lr[:0], f[:0]))


def test_cli_suggest_adam_and_bad_input(capsys):
    rc = cli.main(["suggest", "quadratic", "--set", "curvatures=[1.0, 10.0]", "--optimizer", "adam",
                   "--num", "16", "--steps", "100", "--range-steps", "100", "--max", "1e3"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "no curvature formula for adam" in out and "overshoot" in out
    assert "not diverging within 100 steps (finite horizon)" in out and "largest stable" not in out
    assert "fastai valley" in out
    rc = cli.main(["suggest", "quadratic", "--set", "curvatures=[1.0]", "--fraction", "2"])
    assert rc == 2 and "--fraction" in capsys.readouterr().err
