"""How a sweep is cut up (``lrsweep.sizing``): the block length K and the chunk length, from the problem."""

import numpy as np
import pytest

import lrsweep
from lrsweep import sizing
from lrsweep.configuration import Setup
from lrsweep.sizing import Costs


def _spec(num: int = 4, steps: int = 300, **over):
    raw = {"name": "q", "steps": steps, "loss": {"name": "quadratic", "curvatures": [1.0, 4.0]},
           "init": {"points": [[1.0, 1.0]]},
           "axes": {"learning_rate": {"min": 0.01, "max": 1.0, "num": num, "scale": "log"}}, **over}
    return lrsweep.from_dict(raw)


def _costs(spec) -> Costs:
    setup = Setup(spec)
    return sizing.measure(setup, setup.data())


def test_check_every_depends_on_the_problem_and_steps_never_the_grid():
    """One configuration alone or inside a grid of 10⁴: the same costs, the same K."""
    small, big = _spec(num=1), _spec(num=10_000)
    assert _costs(small) == _costs(big)
    assert sizing.check_every(small, _costs(small)) == sizing.check_every(big, _costs(big))


@pytest.mark.parametrize("update, look, steps", [(1.0, 12.0, 1000), (1e6, 12.0, 1000), (3.0, 300.0, 10**5),
                                                 (1.0, 1.0, 30)])
def test_check_every_minimises_the_overhead_within_a_tenth_of_the_run(update, look, steps):
    """K is the choice minimising look/(K·update) + K/T, capped at T/10 (and ≥ 1)."""
    costs = Costs(update=update, look=look, state_bytes=0, data_bytes=0)
    K = sizing.check_every(_spec(steps=steps), costs)
    best = min(sizing.K_CHOICES, key=lambda k: look / (k * update) + k / steps)
    assert K == max(1, min(best, steps // 10))


def test_check_every_of_a_short_run_is_one():
    assert sizing.check_every(_spec(steps=5), Costs(1.0, 1e3, 0, 0)) == 1


def test_a_cheap_update_gets_a_longer_block_than_a_costly_one():
    spec = _spec(steps=10_000)
    assert sizing.check_every(spec, Costs(1.0, 50.0, 0, 0)) > sizing.check_every(spec, Costs(1e5, 50.0, 0, 0))


@pytest.mark.parametrize("num, devices, batch", [(4, 1, 1), (1000, 1, 8), (10**6, 4, 64), (10**6, 1, 2048)])
def test_auto_chunk_bounds(num, devices, batch):
    """Between one batch and 2²⁰, at most about CHUNK_COST of work, never more than MAX_CHUNKS chunks per
    device, and balanced: as many chunks as the cost-sized length ``c`` needs, all as equal as can be
    (the last, padded to the common length, pads less than one configuration per chunk before the
    block-width rounding)."""
    spec = _spec(num=num, steps=100)
    costs = Costs(update=10.0, look=20.0, state_bytes=0, data_bytes=0)
    chunk = sizing.auto_chunk(spec, costs, K=10, devices=devices, batch=batch)
    assert batch <= chunk <= 1 << 20
    share = -(-spec.size // devices)
    n = -(-share // chunk)
    assert n <= sizing.MAX_CHUNKS
    by_cost = sizing.CHUNK_COST / (spec.steps * (costs.update + costs.look / 10))
    c = int(np.clip(max(by_cost, -(-spec.size // (sizing.MAX_CHUNKS * devices))), batch, 1 << 20))
    assert chunk <= c and n == -(-share // c)
    assert chunk == batch or n * chunk - share < n


def test_auto_chunk_pads_a_grid_just_over_one_chunk_by_little():
    """A grid a little longer than one cost-sized chunk is two half chunks, not a full one and a padded one."""
    costs = Costs(update=10.0, look=20.0, state_bytes=0, data_bytes=0)
    c = sizing.auto_chunk(_spec(num=10**6, steps=100), costs, K=10, devices=1, batch=1)
    spec = _spec(num=c + c // 10, steps=100)
    half = sizing.auto_chunk(spec, costs, K=10, devices=1, batch=1)
    assert half == -(-spec.size // 2)


def test_auto_chunk_of_a_costly_configuration_is_one_batch():
    costs = Costs(update=1e12, look=1.0, state_bytes=0, data_bytes=0)
    assert sizing.auto_chunk(_spec(num=4), costs, K=10, devices=1, batch=8) == 8


def test_fits_compares_state_and_data_with_the_free_memory(monkeypatch):
    costs = Costs(1.0, 1.0, state_bytes=600, data_bytes=400)
    monkeypatch.setattr(sizing, "available_memory", lambda device: 1000)
    assert sizing.fits(costs, [None]) == (True, 1000)
    monkeypatch.setattr(sizing, "available_memory", lambda device: 999)
    assert sizing.fits(costs, [None]) == (False, 999)
    monkeypatch.setattr(sizing, "available_memory", lambda device: None)
    assert sizing.fits(costs, [None]) == (True, None)
