"""`lrsweep suggest`: the recommendation on a quadratic matches 2/λ_max; the range test lags."""

import numpy as np
import pytest

from lrsweep import cli
from lrsweep.suggest import range_answers, suggest


def test_suggest_on_a_quadratic_matches_two_over_lambda_max():
    """λ = (1, 10, 40): the critical learning rate is 2/40 = 0.05. The suggestion's asymptotic
    critical value matches it to 1e-3 (relative), the sharpness prediction to 1e-6; the finite-horizon
    boundary lies just above (a slowly growing mode needs time to cross the divergence threshold); the
    range test's answer overshoots it (lag > 1)."""
    s = suggest("quadratic", {"curvatures": [1.0, 10.0, 40.0]}, steps=300, num=32, dtype="float64",
                init={"points": [[1.0, 1.0, 1.0]]}, range_steps=200)
    assert s.critical == pytest.approx(0.05, rel=1e-3)
    assert s.sharpness == pytest.approx(40.0, rel=1e-6)
    assert s.sharpness_prediction == pytest.approx(0.05, rel=1e-6)
    assert 0.05 < s.critical_horizon < 0.06
    assert s.recommended == pytest.approx(0.5 * s.critical)
    assert s.range_lag > 1.0 and s.range_best < s.range_stop
    assert "2(1+β)/λ_max" in s.text()


def test_suggest_with_momentum_uses_heavy_ball_prediction():
    s = suggest("quadratic", {"curvatures": [1.0, 10.0]}, "sgd", {"momentum": 0.5}, steps=300, num=24,
                dtype="float64", init={"points": [[1.0, 1.0]]}, range_steps=100)
    assert s.sharpness_prediction == pytest.approx(0.3, rel=1e-6)  # 2(1+β)/λ_max
    assert s.critical == pytest.approx(0.3, rel=2e-3)


def test_range_answers():
    lr = np.geomspace(1e-3, 1e1, 5)
    f = np.array([1.0, 0.5, 0.4, 1.7, np.nan])  # 1.7 > 4 × 0.4: stop at the 4th
    assert range_answers(lr, f) == (pytest.approx(lr[2]), pytest.approx(lr[3]))
    assert np.isnan(range_answers(lr, np.array([5.0, 4.0, 3.0, 2.0, 1.0]))[1])


def test_cli_suggest_adam_and_bad_input(capsys):
    rc = cli.main(["suggest", "quadratic", "--set", "curvatures=[1.0, 10.0]", "--optimizer", "adam",
                   "--num", "16", "--steps", "100", "--range-steps", "100", "--max", "1e3"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "no curvature formula for adam" in out and "overshoot" in out
    assert "largest stable learning rate" in out
    rc = cli.main(["suggest", "quadratic", "--set", "curvatures=[1.0]", "--fraction", "2"])
    assert rc == 2 and "--fraction" in capsys.readouterr().err
