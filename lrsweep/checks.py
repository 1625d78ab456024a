"""Everything about a sweep that can be checked before it runs, as one-line :class:`SweepError`.

Run by :meth:`lrsweep.engine.Program.check` before anything is compiled or written: loss and schedule
parameters at every axis's extremes, the problem's initial point and loss on the host (a scalar,
finite), the optimizer's arguments, one trace of the whole program, and whether one configuration
fits in memory.
"""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np

from lrsweep import schedules as _schedules
from lrsweep import sizing as _sizing
from lrsweep import training as _training
from lrsweep.config import SweepError


_NOT_JAX = ("ConcretizationTypeError", "TracerArrayConversionError", "TracerBoolConversionError",
            "TracerIntegerConversionError")


def _first_line(e: BaseException) -> str:
    """One line for a failure of user code: the exception's first line, with a hint where the code is
    not a JAX function (``float()`` on a traced value, ``math``/NumPy calls) or left by ``sys.exit()``."""
    if isinstance(e, SystemExit):
        return f"it called sys.exit({e.code!r})"
    msg = str(e).strip().splitlines()
    text = f"{type(e).__name__}: {msg[0]}" if msg else type(e).__name__
    if type(e).__name__ in _NOT_JAX or (isinstance(e, TypeError) and "scalar" in text):
        text += " (not a JAX function: use jax.numpy on the parameters, no float(), math or NumPy calls)"
    return text + _user_frame(e)


def _user_frame(e: BaseException) -> str:
    """`` at file.py:12`` — the innermost frame of the user's own code in ``e``'s traceback ('' if none)."""
    import os
    import traceback

    here = os.path.dirname(os.path.abspath(__file__))
    frames = [f for f in traceback.extract_tb(e.__traceback__)
              if not f.filename.startswith((here, "<")) and "site-packages" not in f.filename
              and "/lib/python3" not in f.filename]
    return f" at {os.path.basename(frames[-1].filename)}:{frames[-1].lineno}" if frames else ""


def check_program(program) -> None:
    """All the checks, in the order a user would want to hear of them."""
    check_values(program)
    check_memory(program)  # before anything runs on the device: check_problem evaluates the loss once
    check_problem(program)
    check_sensitivity(program)
    check_trajectories(program)
    check_trace(program)


def check_values(program) -> None:
    """Concrete checks of the loss and schedule parameters, at every axis's extremes."""
    spec, setup = program.spec, program.setup
    extremes = {a.name: (min(a.values), max(a.values)) for a in spec.axes if not a.categorical}
    if spec.loss.problem is None:
        from lrsweep import losses as _losses

        factory = _losses.resolve_loss(spec.loss.name)
        _check_points(spec, factory)
        loss_axes = {a.name: a.route.param for a in spec.axes if a.route.kind == "loss"}
        for pick in (0, 1):
            v = {p: setup.cast(k, np.asarray([extremes[k][pick]]))[0] for k, p in loss_axes.items()}
            try:
                with jax.enable_x64(setup.x64):
                    factory(**{**spec.loss.params, **v})
            except (ValueError, TypeError) as e:
                raise SweepError(spec.source, "loss", "valid loss parameters",
                                 raw=f"{spec.source}: loss ({spec.loss.name}): {e}") from None
    for name in setup.schedule_names():
        if callable(name):
            continue
        params = dict(spec.schedule.variants.get(name, {}))
        if name == spec.schedule.name:
            params.update(spec.schedule.params)
        accepted = _schedules.describe_schedules()[name]
        for a in spec.axes:
            if a.route.kind == "schedule" and a.route.param in accepted:
                params[a.route.param] = np.asarray(extremes[a.name])
        try:
            _schedules.validate_schedule(name, params)
        except ValueError as e:
            bad = re.match(r"schedule '\w+': (\w+)=", str(e))
            field_ = (f"axes.schedule.{bad[1]}" if bad and f"schedule.{bad[1]}" in extremes else
                      f"schedule.{bad[1]}" if bad else "schedule")
            raise SweepError(spec.source, field_, "valid schedule parameters",
                             raw=f"{spec.source}: {field_}: {e}") from None


def _check_points(spec, factory) -> None:
    """Explicit ``init.points`` only for losses without an initialiser of their own, and some initial
    point for losses with neither an initialiser nor a fixed dimension."""
    try:
        with jax.enable_x64(spec.dtype == "float64"):
            host = factory(**spec.loss.params)
    except (ValueError, TypeError) as e:
        raise SweepError(spec.source, "loss", "valid loss parameters",
                         raw=f"{spec.source}: loss ({spec.loss.name}): {e}") from None
    points = spec.init.points
    if points is not None and host.init is not None:
        raise SweepError(spec.source, "init.points", f"no explicit points (loss {spec.loss.name!r} "
                         "initialises its own parameters; use init.scale and seed)", "points")
    if points is None and host.init is None and host.dim is None:
        raise SweepError(spec.source, "init.points", f"initial points (loss {spec.loss.name!r} has no "
                         "initialiser of its own and no fixed dimension)", None)


def check_problem(program) -> None:
    """The initial point and the loss there, on the host, at the first value of every axis: ``init``
    runs, the loss returns a real scalar, finite; metrics return scalars."""
    spec, setup, problem = program.spec, program.setup, program.problem
    where, label = spec.source, spec.loss.name
    lf = "loss" if spec.loss.problem is not None else "loss.name"  # the field that names the loss
    points = spec.init.points
    if spec.loss.problem is None and points is not None and problem.dim is not None and len(points[0]) != problem.dim:
        raise SweepError(where, "init.points", f"points of dimension {problem.dim} (loss {label!r})",
                         f"dimension {len(points[0])}")
    with jax.enable_x64(setup.x64):
        v, data = setup.defaults(), program.host_data
        try:
            params = jax.eval_shape(setup.initial_params, v)
        except SweepError:
            raise
        except (Exception, SystemExit) as e:  # noqa: BLE001
            what = "init" if problem.init is not None else "params"
            raise SweepError(where, what, "initial parameters",
                             raw=f"{where}: {what} ({label}) failed: {_first_line(e)}") from None
        leaves = jax.tree.leaves(params)
        if not leaves or not all(jnp.issubdtype(x.dtype, jnp.inexact) for x in leaves):
            raise SweepError(where, "params", "a pytree of floating-point arrays",
                             f"{[str(x.dtype) for x in leaves] or 'no arrays'}")

        def loss0(v, data):
            return setup.loss_at(v, data)(setup.initial_params(v), jnp.asarray(0, jnp.int32))

        try:
            shape = jax.eval_shape(loss0, v, data)
        except SweepError:
            raise
        except (Exception, SystemExit) as e:  # noqa: BLE001
            raise SweepError(where, lf, "a loss that runs on the initial parameters",
                             raw=f"{where}: loss ({label}) failed: {_first_line(e)}") from None
        _scalar(where, lf, label, shape, complex_ok=False)
        if problem.build is not None:  # a `fn(params, **kw)` loss: its own value, before the cast to the dtype
            try:
                own = jax.eval_shape(lambda v: problem.build(**setup.loss_kwargs(v)).fn(setup.initial_params(v)), v)
            except (Exception, SystemExit):  # noqa: BLE001  (it ran above; nothing more to learn)
                own = None
            if own is not None:
                _scalar(where, lf, label, own, complex_ok=False)
        if problem.data is not None or problem.eval_data is not None:
            for name in problem.metrics or {}:
                try:
                    m = jax.eval_shape(lambda v, data, name=name: _training.end_of_run(
                        setup, v, data, setup.initial_params(v))[name], v, data)
                except (Exception, SystemExit) as e:  # noqa: BLE001
                    raise SweepError(where, f"metrics[{name!r}]", "a metric that runs",
                                     raw=f"{where}: metric {name!r} failed: {_first_line(e)}") from None
                _scalar(where, f"metrics[{name!r}]", label, m)
        f = jax.jit(loss0)(v, data)
    if not np.isfinite(float(f)):
        raise SweepError(where, lf, "a finite loss at the initial parameters",
                         raw=f"{where}: {lf}: expected a finite loss at the initial parameters (first value of every "
                             f"axis; a run cannot diverge from there), found {float(f)} ({label})")


def check_sensitivity(program) -> None:
    """``[boundary] sensitivity_loss`` names a column the table will hold with a known initial value:
    ``final_loss``/``min_loss`` (``initial_loss``) or an end-of-run column (``eval_loss``, a metric,
    ``eval_<metric>``, an extra), which :func:`lrsweep.reference.initial_values` evaluates at the initial
    parameters."""
    from lrsweep.config import SENSITIVITY_LOSSES

    spec, setup = program.spec, program.setup
    col = spec.boundary.sensitivity_loss
    if spec.boundary.sensitivity_range is None or col in SENSITIVITY_LOSSES:
        return
    with jax.enable_x64(setup.x64):
        try:
            cols = jax.eval_shape(lambda v, data: _training.end_of_run(setup, v, data, setup.initial_params(v)),
                                  setup.defaults(), program.host_data)
        except (Exception, SystemExit):  # noqa: BLE001  (check_problem names the failing metric)
            cols = {}
    if col not in cols:
        raise SweepError(spec.source, "boundary.sensitivity_loss",
                         f"a loss column of the table: one of {[*SENSITIVITY_LOSSES, *sorted(cols)]}", col)


def check_trajectories(program) -> None:
    """``[trajectories] metrics``, when a list, names end-of-run columns of the table (a metric,
    ``eval_loss``, ``eval_<metric>``, an extra) or ``update_rms``."""
    spec = program.spec
    t = spec.trajectories
    if t is None or isinstance(t.metrics, bool):
        return
    try:
        known = [*program.column_names(), "update_rms"]
    except (Exception, SystemExit):  # noqa: BLE001  (check_problem names the failing metric)
        known = ["update_rms"]
    for name in t.metrics:
        if name not in known:
            raise SweepError(spec.source, "trajectories.metrics", f"names of the problem's columns: one of {known}",
                             name)


def _scalar(where, field_, label, value, complex_ok=False):
    shape = getattr(value, "shape", None)
    if shape != ():
        raise SweepError(where, field_, "a scalar", f"{label} returned shape {shape or type(value).__name__}")
    if not complex_ok and jnp.issubdtype(value.dtype, jnp.complexfloating):
        raise SweepError(where, field_, "a real scalar", f"{label} returned a complex value")


def check_trace(program) -> None:
    """Trace a 2-configuration block of the whole program (no compilation)."""
    spec = program.spec
    with jax.enable_x64(program.x64):
        try:
            program.trace()
        except SweepError:
            raise
        except (Exception, SystemExit) as e:  # a hyperparameter optax checks in Python, a user loss that fails …
            raise SweepError(spec.source, "axes", "hyperparameters that can be traced (swept)",
                             raw=f"{spec.source}: axes: expected a program that traces with these hyperparameters "
                                 f"and loss ({spec.loss.name}), found: {_first_line(e)}") from None


def check_memory(program) -> None:
    """One configuration (state, update temporaries, data) must fit in a device's memory."""
    ok, free = _sizing.fits(program.costs, program.devices)
    if not ok:
        need = program.costs.state_bytes + program.costs.data_bytes
        raise SweepError(program.spec.source, "loss", "a model whose single configuration fits in memory",
                         raw=f"{program.spec.source}: one configuration needs {need / 2**30:.2f} GiB (parameters, "
                             f"optimizer state, one update's temporaries, data) but {free / 2**30:.2f} GiB are "
                             f"available on {program.devices[0].platform}; use a smaller model or batch_size")
