"""LR sensitivity (lrsweep.sensitivity), the paper's definition, on curves whose value is known by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from lrsweep.sensitivity import lr_sensitivity, sensitivity_table


def test_a_flat_curve_has_zero_sensitivity():
    assert lr_sensitivity(np.geomspace(3e-4, 3e-1, 10), np.full(10, 2.5), 5.0) == 0.0


def test_by_hand_with_a_diverged_point_counted_as_the_initial_loss():
    lr = [1e-4, 1e-3, 1e-2, 1e-1, 0.3, 1.0]
    final = [9.0, 3.0, 2.0, 4.0, float("inf"), 1.0]           # 1e-4 and 1.0 lie outside [3e-4, 3e-1]
    # in range: 3, 2, 4, min(inf, 6) = 6 -> mean 3.75, best 2
    assert lr_sensitivity(lr, final, 6.0) == pytest.approx(1.75)


def test_final_losses_above_the_initial_loss_are_capped():
    assert lr_sensitivity([1e-3, 1e-2], [2.0, 50.0], 6.0) == pytest.approx((2 + 6) / 2 - 2)


def test_no_point_in_range_is_nan_and_the_range_is_inclusive():
    assert math.isnan(lr_sensitivity([1.0, 2.0], [1.0, 2.0], 3.0))
    assert lr_sensitivity([3e-4, 3e-1], [1.0, 2.0], 3.0) == pytest.approx(0.5)


def test_the_table_has_one_row_per_slice():
    t = pd.DataFrame({"learning_rate": [1e-3, 1e-2] * 2, "qk": [0, 0, 1, 1], "final_loss": [2.0, 3.0, 2.0, 2.0],
                      "initial_loss": 6.0})
    s = sensitivity_table(t, ["qk"])
    assert s["sensitivity"].tolist() == [0.5, 0.0] and s["best_lr"].tolist() == [1e-3, 1e-3]
