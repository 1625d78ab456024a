"""Sweep definitions: TOML → a frozen, validated :class:`SweepSpec`.

Every check happens here, on the host, before anything is compiled or written.
A bad sweep raises :class:`SweepError` whose one-line message names the file,
the field, what was expected and what was found::

    sweeps/x.toml: axes.learning_rate.min: expected a number > 0 for a log axis, found -1.0

Axis names route a swept value to its consumer:

==========================  =====================================================
``learning_rate``, ``b1`` …  a hyperparameter of the optimizer (``optimizer.b1`` too)
``schedule.<param>``         a parameter of the learning-rate schedule
``schedule``                 a *categorical* axis over schedule names
``loss.<param>``             a numeric parameter of the loss
``init.scale``               multiplies the initial point
``init.index``               which initial point (of ``init.points`` or ``init.count``)
``seed``                     the PRNG seed of the initial point / initialiser
==========================  =====================================================
"""

from __future__ import annotations

import dataclasses
import functools
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lrsweep import losses as _losses
from lrsweep import optimizers as _optimizers
from lrsweep import schedules as _schedules

DTYPES = ("float32", "float64")
MAX_AXIS_POINTS = 10_000_000  # points of one axis (its values are a tuple on the host)
SCALES = ("linear", "log")
INIT_AXES = ("init.scale", "init.index")
INTEGER_AXES = ("seed", "init.index")


class SweepError(ValueError):
    """A sweep definition is invalid. The message is one line: file, field, expected, found."""

    def __init__(self, source: str, field_: str, expected: str, found: Any = None, *, raw: str | None = None):
        self.source, self.field, self.expected, self.found = source, field_, expected, found
        msg = raw if raw is not None else f"{source}: {field_}: expected {expected}, found {found!r}"
        super().__init__(msg)


class BusyError(SweepError):
    """A results directory is being written by another run (its lock is held): nothing is wrong with the
    sweep, wait or choose another directory. A :class:`SweepError`, so commands still exit 2 in one line."""


@dataclass(frozen=True)
class Route:
    """Where an axis's values go, read once from its name (:func:`route`).

    ``kind`` is one of :data:`ROUTE_KINDS`; ``param`` the parameter set there: the optimizer's
    hyperparameter (``momentum``, ``optimizer.b1`` → ``b1``), the schedule's or the loss's parameter,
    ``scale``/``index`` of the initial point, or the parameter group of a ``learning_rate.<group>``
    axis; ``""`` for ``seed`` and the categorical ``schedule`` axis.
    """

    kind: str
    param: str = ""


ROUTE_KINDS = ("optimizer", "group_learning_rate", "schedule", "schedule_name", "loss", "init", "seed")
_PREFIXES = {"optimizer.": "optimizer", "learning_rate.": "group_learning_rate", "schedule.": "schedule",
             "loss.": "loss", "init.": "init"}


@functools.lru_cache(maxsize=4096)
def route(name: str) -> Route:
    """The route of the axis ``name``: a prefix names the consumer, a bare name is the optimizer's.

    >>> route("momentum"), route("optimizer.b1")
    (Route(kind='optimizer', param='momentum'), Route(kind='optimizer', param='b1'))
    >>> route("learning_rate.layer0"), route("schedule.decay_rate")
    (Route(kind='group_learning_rate', param='layer0'), Route(kind='schedule', param='decay_rate'))
    >>> route("loss.data_seed"), route("init.scale"), route("schedule"), route("seed")
    (Route(kind='loss', param='data_seed'), Route(kind='init', param='scale'), Route(kind='schedule_name', param=''),
     Route(kind='seed', param=''))
    """
    if name == "seed":
        return Route("seed")
    if name == "schedule":
        return Route("schedule_name")
    for prefix, kind in _PREFIXES.items():
        if name.startswith(prefix):
            return Route(kind, name[len(prefix):])
    return Route("optimizer", name)


def looks_log(values) -> bool:
    r"""Whether a list of values is log-spaced: at least three distinct values, all > 0, spaced more evenly
    on a log scale than on a linear one — the spread of the gaps relative to their mean,
    :math:`\mathrm{cv}(d) = \mathrm{std}(d)/\mathrm{mean}(d)`, is smaller for :math:`d = \Delta\log v` than for
    :math:`d = \Delta v` (sorted values). Geometric sequences are log-spaced, arithmetic ones are not,
    hand-picked decades (1e-4, 3e-4, 1e-3, …) are.

    >>> looks_log([1e-4, 1e-3, 1e-2]), looks_log([1e-4, 3e-4, 1e-3, 3e-3]), looks_log([0.5, 1.0, 2.0])
    (True, True, True)
    >>> looks_log([0.1, 0.2, 0.3]), looks_log([0.5, 0.8, 1.0, 1.2]), looks_log([0.0, 1.0, 10.0]), looks_log([1, 10])
    (False, False, False, False)
    """
    v = np.unique(np.asarray(values, np.float64))
    if len(v) < 3 or v[0] <= 0:
        return False

    def cv(d):
        return float(np.std(d) / np.mean(d))

    return cv(np.diff(np.log(v))) + 1e-9 < cv(np.diff(v))


@dataclass(frozen=True)
class Axis:
    """One swept dimension. ``values`` are floats, or names for a categorical axis.

    ``route`` says where its values go (:func:`route`); ``is_log`` whether it is log-scaled: declared
    ``scale = "log"``, or a ``values`` list that :func:`looks_log` (never a ``linear`` or categorical axis).
    Figures draw it on a log axis, the boundary search bisects it geometrically, a zoom keeps its scale.
    """

    name: str
    values: tuple
    scale: str = "linear"  # "linear" | "log" | "values" | "switch" (true/false values, swept as 1.0/0.0)
    categorical: bool = False
    route: Route = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "route", route(self.name))

    @functools.cached_property
    def is_log(self) -> bool:
        if self.categorical or self.scale == "linear":
            return False
        return self.scale == "log" or looks_log(self.values)

    def __len__(self) -> int:
        return len(self.values)

    def to_dict(self) -> dict:
        if self.scale == "switch":  # written back as it was given: [false, true]
            return {"values": [bool(x) for x in self.values]}
        return {"values": list(self.values), "scale": self.scale}


class _Unresolved:
    """The problem a results directory's sweep.toml names, not imported (reading results runs no code)."""

    def __init__(self, label: str):
        self.label = label
        self.minimum = None

    def __getattr__(self, name):
        raise SweepError("<results>", "loss", "an importable problem",
                         raw=f"the problem {self.label!r} of a results directory is not imported when reading results; "
                             "run the sweep file to recompute")


@dataclass(frozen=True)
class LossSpec:
    name: str
    params: dict = field(default_factory=dict)
    minimum: float | None = None  # for user losses: their known minimum
    # the Problem trained (Python API, or a sweep file's `loss = "file.py:make_problem"`); None: built from `name`
    problem: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class InitSpec:
    points: tuple | None = None  # explicit initial points, (P, d) nested tuples
    scale: float = 1.0
    count: int = 1  # random points drawn when no explicit points
    seed: int = 0
    index: int = 0


@dataclass(frozen=True)
class OptimizerSpec:
    name: str = "sgd"  # an optax name, "module:function", or (Python API) a callable's module:qualname label
    params: dict = field(default_factory=dict)
    # the callable a "module:function" name or the Python API gives, (learning_rate, **hp) -> optax; None: optax.<name>
    factory: Any = field(default=None, compare=False, repr=False)

    @property
    def builder(self):
        """What builds the optimizer: the callable, or the optax name."""
        return self.factory if self.factory is not None else self.name


@dataclass(frozen=True)
class ScheduleSpec:
    name: Any = "constant"  # a schedule name, or (Python API) a callable step -> factor
    params: dict = field(default_factory=dict)
    # For a categorical `schedule` axis: fixed parameters of each named schedule.
    variants: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Criteria:
    diverge_factor: float = 1e6
    converge_tol: float = 1e-6


@dataclass(frozen=True)
class BoundarySpec:
    axis: str | None = None
    rtol: float = 1e-4
    max_rounds: int = 64
    asymptotic: bool = True
    sharpness: bool = True  # Lanczos λ_max at each slice's initial point (costly on networks: `false` skips it)
    # Wortsman et al.'s LR sensitivity per slice of the other axes, over learning rates in [a, b] (None: none)
    sensitivity_range: tuple[float, float] | None = None
    sensitivity_loss: str = "final_loss"  # the column read as the final loss L(η)

    def to_dict(self) -> dict:
        """As written to ``sweep.toml``: ``axis = "none"`` when there is no search (a missing axis would read
        back as ``learning_rate``); the sensitivity keys only when a range is set."""
        d = {"axis": self.axis if self.axis is not None else "none", "rtol": self.rtol,
             "max_rounds": self.max_rounds, "asymptotic": self.asymptotic, "sharpness": self.sharpness}
        if self.sensitivity_range is not None:
            d["sensitivity_range"] = list(self.sensitivity_range)
            d["sensitivity_loss"] = self.sensitivity_loss
        return d


@dataclass(frozen=True)
class TrajectorySpec:
    select: dict = field(default_factory=dict)  # axis name -> tuple of values
    every: int = 1
    max_params: int = 16
    steps: int | None = None  # default: the sweep's steps
    metrics: bool | tuple[str, ...] = True  # end-of-run columns (and update_rms) recorded every `every` steps


@dataclass(frozen=True)
class RunSpec:
    chunk_size: int = 0      # configurations per dispatched chunk and device (rounded to `batch`; 0: automatic)
    batch: int = 0           # configurations vectorised together (the vmap width; 0: automatic): fixes the numerics
    check_every: int = 0     # the loss is observed every k updates and after the last (0: automatic)
    devices: int = 0         # local devices to shard over (0: all)


@dataclass(frozen=True)
class SweepSpec:
    """A whole sweep, validated. Build it with :func:`load_sweep` or :func:`from_dict`."""

    name: str
    steps: int
    loss: LossSpec
    axes: tuple[Axis, ...]
    dtype: str = "float32"
    init: InitSpec = InitSpec()
    optimizer: OptimizerSpec = OptimizerSpec()
    schedule: ScheduleSpec = ScheduleSpec()
    criteria: Criteria = Criteria()
    boundary: BoundarySpec = BoundarySpec()
    trajectories: TrajectorySpec | None = None
    run: RunSpec = RunSpec()
    description: str = ""
    source: str = field(default="<dict>", compare=False)  # where it was read from (not part of the definition)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(a) for a in self.axes)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    def axis(self, name: str) -> Axis:
        for a in self.axes:
            if a.name == name:
                return a
        raise KeyError(name)

    @property
    def axis_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.axes)

    def to_dict(self) -> dict:
        """The resolved definition, as a TOML-ready dict (defaults filled, axes expanded)."""
        d = {
            "name": self.name,
            **({"description": self.description} if self.description else {}),
            "steps": self.steps,
            "dtype": self.dtype,
            "loss": ({"name": self.loss.name, **_plain(self.loss.params)} if self.loss.problem is None
                     else self.loss.name),
            "init": {k: _plain(v) for k, v in dataclasses.asdict(self.init).items() if v is not None},
            "optimizer": {"name": self.optimizer.name, **_plain(self.optimizer.params)},
            "schedule": {"name": label(self.schedule.name), **_plain(self.schedule.params),
                         **{k: _plain(v) for k, v in self.schedule.variants.items()}},
            "axes": {a.name: a.to_dict() for a in self.axes},
            "criteria": dataclasses.asdict(self.criteria),
            "boundary": self.boundary.to_dict(),
            "run": dataclasses.asdict(self.run),
        }
        if self.loss.minimum is not None and self.loss.problem is None:
            d["loss"]["minimum"] = self.loss.minimum
        if self.trajectories is not None:
            t = self.trajectories
            d["trajectories"] = {"every": t.every, "max_params": t.max_params,
                                 **({"steps": t.steps} if t.steps else {}),
                                 "metrics": t.metrics if isinstance(t.metrics, bool) else list(t.metrics),
                                 **{k: list(v) for k, v in t.select.items()}}
        return d

    def to_toml(self) -> str:
        """The resolved definition as TOML text (what ``sweep.toml`` holds): :meth:`to_dict` with the
        ``None`` values TOML cannot write left out. The one writer of a spec as TOML; it reads back
        with :func:`from_dict` to an equal spec."""
        import tomli_w

        return tomli_w.dumps(_toml_ready(self.to_dict()))


def _toml_ready(d):
    """``d`` without ``None`` values (TOML has no null), tuples as lists."""
    if isinstance(d, dict):
        return {k: _toml_ready(v) for k, v in d.items() if v is not None}
    if isinstance(d, (list, tuple)):
        return [_toml_ready(v) for v in d]
    return d


def label(obj) -> str:
    """A name, or a callable's ``module:qualname`` (how a Python object is written into sweep.toml)."""
    if isinstance(obj, str):
        return obj
    return f"{getattr(obj, '__module__', '?')}:{getattr(obj, '__qualname__', type(obj).__name__)}"


def _plain(v):
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (tuple, list)):
        return [_plain(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    return v


# --------------------------------------------------------------------------- loading


def load_sweep(path: str | Path, overrides: list[str] | dict | None = None) -> SweepSpec:
    """Read, override and validate a sweep file.

    Args:
      path: a ``.toml`` sweep definition.
      overrides: ``["key.sub=value", ...]`` (values in TOML syntax; bare words are
        strings) or a dict of dotted keys, applied before validation.
    """
    path = Path(path)
    source = str(path)
    try:
        data = path.read_bytes()
    except (OSError, ValueError) as e:  # ValueError: a NUL byte in the path
        why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise SweepError(source, "file", "a readable sweep file", raw=f"{source}: cannot read: {why}") from None
    text = _utf8(data, source)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise SweepError(source, "toml", "valid TOML", raw=f"{source}: malformed TOML: {e}") from None
    raw = apply_overrides(raw, overrides or [], source)
    return from_dict(raw, source=source)


def _utf8(data: bytes, source: str) -> str:
    """``data`` decoded as UTF-8, or a :class:`SweepError` naming the line and the key it sets.

    >>> _utf8(b'name = "x"\\nsteps = 1\\xff\\n', "s.toml")
    Traceback (most recent call last):
    ...
    lrsweep.config.SweepError: s.toml: line 2 (steps): expected UTF-8 text, found byte 0xff
    """
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        text = data.split(b"\n")[line - 1].decode("utf-8", errors="replace")
        key = text.split("=", 1)[0].strip() if "=" in text else text.strip()[:40]
        raise SweepError(source, f"line {line}", "UTF-8 text", raw=f"{source}: line {line}"
                         + (f" ({key})" if key else "") + f": expected UTF-8 text, found byte 0x{data[e.start]:02x}"
                         ) from None


def apply_overrides(raw: dict, overrides: list[str] | dict, source: str) -> dict:
    """Return a copy of ``raw`` with ``key.sub=value`` overrides applied."""
    import copy

    raw = copy.deepcopy(raw)
    items = overrides.items() if isinstance(overrides, dict) else [assignment(o) for o in overrides]
    for key, value in items:
        parts = key.split(".")
        node = raw
        if parts[0] == "axes" and len(parts) > 1:
            # axis names may hold dots (`schedule.factor`): `axes.<axis>.<field>` or `axes.<axis> = {...}`
            axes = raw.setdefault("axes", {})
            if not isinstance(axes, dict):
                raise SweepError(source, key, "a table", raw=f"{source}: --set {key}: axes is not a table")
            if len(parts) > 2 and parts[-1] in _AXIS_FIELDS and not isinstance(value, dict):  # a table is an axis:
                # `axes.init.scale={values=[…]}` is the init.scale axis, not the `scale` field of an axis `init`
                name = ".".join(parts[1:-1]).strip("\"'")
                axis = axes.setdefault(name, {})
                if not isinstance(axis, dict):
                    axis = axes[name] = {"values": axis}
                axis[parts[-1]] = value
            else:
                axes[".".join(parts[1:]).strip("\"'")] = value
            continue
        while len(parts) > 1:
            # the longest dotted prefix that already names a key here (axes like "loss.curvature_scale")
            n = next((n for n in range(len(parts) - 1, 0, -1) if ".".join(parts[:n]) in node), 1)
            p, parts = ".".join(parts[:n]), parts[n:]
            nxt = node.setdefault(p, {})
            if not isinstance(nxt, dict):
                raise SweepError(source, key, "a table", raw=f"{source}: --set {key}: {p} is not a table")
            node = nxt
        node[parts[0]] = value
    return raw


_AXIS_FIELDS = ("min", "max", "num", "scale", "values")


def assignment(text: str, option: str = "--set") -> tuple[str, Any]:
    """One ``KEY=VALUE`` of the command line: the key stripped, the value read as a TOML value, or kept
    as the (stripped) text when it is not one — a bare word is a string. The one parser of every
    ``--set``/``--opt``/``--init``.

    >>> assignment("axes.learning_rate.num=64"), assignment("activation = relu"), assignment("x=[1, 2.5]")
    (('axes.learning_rate.num', 64), ('activation', 'relu'), ('x', [1, 2.5]))
    >>> assignment("steps")
    Traceback (most recent call last):
    ...
    lrsweep.config.SweepError: --set 'steps': expected KEY=VALUE
    """
    key, sep, value = text.partition("=")
    key, value = key.strip(), value.strip()
    if not sep or not key:
        raise SweepError(option, option, "KEY=VALUE", text, raw=f"{option} {text!r}: expected KEY=VALUE")
    try:
        return key, tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        return key, value


def assignments(items: list[str], option: str = "--set") -> dict[str, Any]:
    """``KEY=VALUE`` items (:func:`assignment`) as a dict, later keys winning."""
    return dict(assignment(item, option) for item in items)


_TOP_KEYS = {"name", "steps", "dtype", "loss", "init", "optimizer", "schedule", "axes", "criteria",
             "boundary", "trajectories", "run", "description"}


def from_dict(raw: dict, *, source: str = "<dict>", resolve: bool = True) -> SweepSpec:
    """Validate a parsed sweep definition and build the :class:`SweepSpec`.

    ``raw["loss"]`` is a ``[loss]`` table (a built-in or ``fn(params, **kw)`` loss by name), a string
    ``"file.py:make_problem"`` naming a :class:`~lrsweep.problem.Problem`, or (Python API) a ``Problem``.
    ``resolve=False`` reads a results directory's ``sweep.toml``: user code named in it is not
    imported (opening results never runs code), its names are kept as labels.
    """
    v = _Validator(source, resolve)
    unknown = set(raw) - _TOP_KEYS
    if unknown:
        k = sorted(unknown)[0]
        v.fail(k, f"one of the top-level keys {sorted(_TOP_KEYS)}", k)

    name = v.string(raw, "name", required=True)
    description = v.string(raw, "description", default="")
    if not name or any(c in name for c in "/\\") or name.startswith("."):
        v.fail("name", "a non-empty name without path separators", name)
    steps = v.integer(raw, "steps", required=True, minimum=1)
    dtype = v.choice(raw, "dtype", DTYPES, default="float32")

    loss = _loss_spec(v, raw.get("loss"))
    optimizer = _optimizer_spec(v, v.table(raw, "optimizer", default={"name": "sgd"}))
    schedule = _schedule_spec(v, v.table(raw, "schedule", default={"name": "constant"}))
    init = _init_spec(v, v.table(raw, "init", default={}))
    criteria = _criteria(v, v.table(raw, "criteria", default={}))
    run = _run_spec(v, v.table(raw, "run", default={}))

    axes_raw = v.table(raw, "axes", required=True)
    if not axes_raw:
        v.fail("axes", "at least one swept axis", {})
    axes = [_axis(v, name_, spec_) for name_, spec_ in _flatten_axes(axes_raw)]
    names = [a.name for a in axes]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        v.fail(f"axes.{dup}", "each axis once", "a duplicate")

    # Several initial points and no init.index axis: sweep over them.
    n_points = len(init.points) if init.points is not None else init.count
    if n_points > 1 and "init.index" not in names:
        axes.append(Axis("init.index", tuple(float(i) for i in range(n_points)), "values"))
    axes = tuple(axes)

    _check_routes(v, axes, loss, optimizer, schedule, init, n_points)
    _check_one_name(v, axes, loss, optimizer, schedule, v.table(raw, "init", default={}))
    _check_types(v, axes, optimizer, schedule, dtype, loss)

    boundary = _boundary_spec(v, v.table(raw, "boundary", default={}), axes)
    axes = _sorted_boundary_axis(v, axes, boundary.axis)
    trajectories = _trajectory_spec(v, raw.get("trajectories"), axes)

    spec = SweepSpec(name=name, steps=steps, dtype=dtype, loss=loss, axes=axes, init=init,
                     optimizer=optimizer, schedule=schedule, criteria=criteria, boundary=boundary,
                     trajectories=trajectories, run=run, description=description, source=source)
    if spec.size == 0:
        v.fail("axes", "a non-empty grid", "an axis with no values")
    return spec


def _flatten_axes(axes_raw: dict):
    """Axes may be written as ``"schedule.decay_rate" = {...}`` or as nested tables ``[axes.schedule]``."""
    for key, val in axes_raw.items():
        if isinstance(val, dict) and not (set(val) & {"min", "max", "num", "values", "scale"}):
            for sub, spec in _flatten_axes(val):
                yield f"{key}.{sub}", spec
        else:
            yield key, val


class _Validator:
    def __init__(self, source: str, resolve: bool = True):
        self.source = source
        self.resolve = resolve

    def fail(self, field_: str, expected: str, found: Any):
        raise SweepError(self.source, field_, expected, found)

    def _get(self, table, key, required, default, prefix=""):
        if key not in table:
            if required:
                self.fail(prefix + key, "a value (required)", None)
            return default, False
        return table[key], True

    def string(self, table, key, *, required=False, default=None, prefix=""):
        val, present = self._get(table, key, required, default, prefix)
        if present and not isinstance(val, str):
            self.fail(prefix + key, "a string", val)
        return val

    def integer(self, table, key, *, required=False, default=None, minimum=None, prefix=""):
        val, present = self._get(table, key, required, default, prefix)
        if present:
            whole = isinstance(val, int) or (isinstance(val, float) and val.is_integer())
            if isinstance(val, bool) or not whole:
                self.fail(prefix + key, "an integer", val)
            val = int(val)
            if minimum is not None and val < minimum:
                self.fail(prefix + key, f"an integer ≥ {minimum}", val)
        return val

    def number(self, table, key, *, required=False, default=None, positive=False, prefix=""):
        val, present = self._get(table, key, required, default, prefix)
        if present:
            if isinstance(val, bool) or not isinstance(val, (int, float)) or not math.isfinite(val):
                self.fail(prefix + key, "a finite number", val)
            if positive and val <= 0:
                self.fail(prefix + key, "a number > 0", val)
            val = float(val)
        return val

    def choice(self, table, key, options, *, default=None, prefix=""):
        val, present = self._get(table, key, False, default, prefix)
        if present and val not in options:
            self.fail(prefix + key, f"one of {list(options)}", val)
        return val

    def table(self, table, key, *, required=False, default=None):
        val, present = self._get(table, key, required, default)
        if present and not isinstance(val, dict):
            self.fail(key, "a table", val)
        return dict(val) if val is not None else val


def _loss_spec(v: _Validator, t) -> LossSpec:
    from lrsweep import problem as _problem

    if isinstance(t, _problem.Problem):
        return LossSpec(name=t.label, problem=t)
    if isinstance(t, str):  # loss = "file.py:make_problem"
        if ":" not in t:
            v.fail("loss", "a [loss] table, or \"path/file.py:make_problem\" naming an lrsweep.Problem", t)
        if not v.resolve:
            return LossSpec(name=t, problem=_Unresolved(t))
        try:
            return LossSpec(name=t, problem=_problem.load_problem(t))
        except ValueError as e:
            raise SweepError(v.source, "loss", "an lrsweep.Problem", raw=f"{v.source}: loss: {e}") from None
    if t is None:
        v.fail("loss", "a value (required)", None)
    if not isinstance(t, dict):
        v.fail("loss", "a table (or a \"file.py:make_problem\" string)", t)
    name = v.string(t, "name", required=True, prefix="loss.")
    if not v.resolve:
        params = {k: val for k, val in t.items() if k not in ("name", "minimum")}
        return LossSpec(name=name, params=params, minimum=t.get("minimum"))
    try:
        factory = _losses.resolve_loss(name)
    except ValueError as e:
        v.fail("loss.name", "a built-in loss or an importable 'module:function'", f"{name} ({e})")
    minimum = v.number(t, "minimum", prefix="loss.")
    params = {k: val for k, val in t.items() if k not in ("name", "minimum")}
    if name in _losses.LOSSES:
        accepted = _losses.describe_losses()[name]
        for k in params:
            if k not in accepted:
                v.fail(f"loss.{k}", f"a parameter of loss {name!r} ({', '.join(accepted)})", k)
        if minimum is not None:
            v.fail("loss.minimum", "no minimum for a built-in loss (it knows its own)", minimum)
    del factory
    return LossSpec(name=name, params=params, minimum=minimum)


def _optimizer_spec(v: _Validator, t: dict) -> OptimizerSpec:
    name = t.get("name", "sgd")
    if not callable(name):
        name = v.string(t, "name", default="sgd", prefix="optimizer.")
    params = {k: val for k, val in t.items() if k != "name"}
    if not v.resolve and isinstance(name, str) and ":" in name:
        return OptimizerSpec(name=name, params=params)  # user code: not imported when reading results
    try:
        accepted = _optimizers.describe_optimizer(name)
    except ValueError as e:
        v.fail("optimizer.name", "an optax optimizer name, 'module:function' or a callable", f"{label(name)} ({e})")
    what = f"optax.{name}" if isinstance(name, str) and ":" not in name else f"optimizer {label(name)}"
    for k in params:
        if k not in accepted:
            v.fail(f"optimizer.{k}", f"a hyperparameter of {what} ({', '.join(accepted)})", k)
    if callable(name):  # Python API
        return OptimizerSpec(name=label(name), params=params, factory=name)
    factory = _optimizers.resolve_optimizer(name) if ":" in name else None  # imported once; the file name is kept
    return OptimizerSpec(name=name, params=params, factory=factory)


def _schedule_spec(v: _Validator, t: dict) -> ScheduleSpec:
    name = t.get("name", "constant")
    if callable(name):  # Python API: step -> factor
        extra = sorted(set(t) - {"name"})
        if extra:
            v.fail(f"schedule.{extra[0]}", "no parameters beside a callable schedule", extra[0])
        return ScheduleSpec(name=name)
    name = v.string(t, "name", default="constant", prefix="schedule.")
    known = _schedules.describe_schedules()
    if name not in known and not (not v.resolve and ":" in name):
        import difflib

        close = difflib.get_close_matches(name, list(known), n=1)
        v.fail("schedule.name", f"one of {sorted(known)}" + (f" (did you mean {close[0]!r}?)" if close else ""),
               name)
    own = known.get(name, {})  # a dict-valued parameter of the schedule itself (boundaries_and_scales)
    variants = {k: dict(val) for k, val in t.items() if isinstance(val, dict) and k not in own}
    for k in variants:
        if k not in known:
            v.fail(f"schedule.{k}", f"a table named after a schedule ({sorted(known)})", k)
    params = {k: val for k, val in t.items() if k != "name" and k not in variants}
    return ScheduleSpec(name=name, params=params, variants=variants)


def _init_spec(v: _Validator, t: dict) -> InitSpec:
    for k in t:
        if k not in ("points", "scale", "count", "seed", "index"):
            v.fail(f"init.{k}", "one of points, scale, count, seed, index", k)
    points = t.get("points")
    if points is not None:
        if not isinstance(points, list) or not points:
            v.fail("init.points", "a non-empty list of points (lists of numbers)", points)
        rows = [p if isinstance(p, list) else [p] for p in points]
        width = len(rows[0])
        for i, r in enumerate(rows):
            if len(r) != width or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in r):
                v.fail(f"init.points[{i}]", f"a list of {width} numbers", r)
        points = tuple(tuple(float(x) for x in r) for r in rows)
    scale = v.number(t, "scale", default=1.0, prefix="init.")
    count = v.integer(t, "count", default=1, minimum=1, prefix="init.")
    seed = v.integer(t, "seed", default=0, minimum=0, prefix="init.")
    index = v.integer(t, "index", default=0, minimum=0, prefix="init.")
    n = len(points) if points is not None else count
    if index >= n:
        v.fail("init.index", f"an index < {n}", index)
    return InitSpec(points=points, scale=scale, count=count, seed=seed, index=index)


def _criteria(v: _Validator, t: dict) -> Criteria:
    for k in t:
        if k not in ("diverge_factor", "converge_tol"):
            v.fail(f"criteria.{k}", "diverge_factor or converge_tol", k)
    f = v.number(t, "diverge_factor", default=1e6, prefix="criteria.")
    if f <= 1:
        v.fail("criteria.diverge_factor", "a number > 1", f)
    tol = v.number(t, "converge_tol", default=1e-6, positive=True, prefix="criteria.")
    return Criteria(diverge_factor=f, converge_tol=tol)


def _run_spec(v: _Validator, t: dict) -> RunSpec:
    for k in t:
        if k not in ("chunk_size", "batch", "check_every", "devices"):
            v.fail(f"run.{k}", "one of chunk_size, batch, check_every, devices", k)
    return RunSpec(chunk_size=v.integer(t, "chunk_size", default=0, minimum=0, prefix="run."),
                   batch=v.integer(t, "batch", default=0, minimum=0, prefix="run."),
                   check_every=v.integer(t, "check_every", default=0, minimum=0, prefix="run."),
                   devices=v.integer(t, "devices", default=0, minimum=0, prefix="run."))


def _axis(v: _Validator, name: str, spec) -> Axis:
    """One ``[axes]`` entry: ``schedule = {values = [names]}``, ``{values = [...]}`` (or a bare list), or
    ``{min, max, num, scale}``; seeds and indices must be non-negative integers."""
    f = f"axes.{name}"
    if name == "schedule":
        return _categorical_axis(v, spec)
    if isinstance(spec, list):
        spec = {"values": spec}
    if not isinstance(spec, dict):
        v.fail(f, "{min, max, num, scale} or {values = [...]}", spec)
    values, scale = _listed_axis(v, f, spec) if "values" in spec else _spaced_axis(v, f, spec)
    if name in INTEGER_AXES:
        for x in values:
            if not float(x).is_integer() or x < 0:
                v.fail(f"{f}.values", "non-negative integers", x)
    return Axis(name, values, scale)


def _categorical_axis(v: _Validator, spec) -> Axis:
    """The ``schedule`` axis: distinct schedule names."""
    f = "axes.schedule"
    extra = set(spec) - {"values"} - ({"scale"} if spec.get("scale") == "values" else set()) \
        if isinstance(spec, dict) else set()  # a resolved sweep.toml writes `scale = "values"` back
    if extra:
        v.fail(f"{f}.{sorted(extra)[0]}", "only `values` (a list of schedule names)", sorted(extra)[0])
    vals = spec.get("values") if isinstance(spec, dict) else spec
    if not isinstance(vals, list) or not vals or not all(isinstance(x, str) for x in vals):
        v.fail(f, "{ values = [schedule names] }", spec)
    known = _schedules.describe_schedules()
    for x in vals:
        if x not in known:
            v.fail(f"{f}.values", f"schedule names from {sorted(known)}", x)
    if len(set(vals)) != len(vals):
        v.fail(f"{f}.values", "distinct schedule names", vals)
    return Axis("schedule", tuple(vals), "values", categorical=True)


def _listed_axis(v: _Validator, f: str, spec: dict) -> tuple[tuple, str]:
    """``{values = [...], scale = ...}``: finite numbers (> 0 on a declared log axis); ``(values, scale)``.

    A list of booleans (``[false, true]``) is a switch: swept as 0.0 / 1.0 (traced into the loss like
    any number), scale ``"switch"``, written back as booleans."""
    extra = set(spec) - {"values", "scale"}
    if extra:
        v.fail(f"{f}.{sorted(extra)[0]}", "only `values` (and an optional `scale`) beside values", sorted(extra)[0])
    vals = spec["values"]
    if not isinstance(vals, list) or not vals:
        v.fail(f"{f}.values", "a non-empty list of numbers", vals)
    if any(isinstance(x, bool) for x in vals):
        return _switch_values(v, f, spec)
    if len(vals) > MAX_AXIS_POINTS:
        v.fail(f"{f}.values", f"at most {MAX_AXIS_POINTS:,} values", len(vals))
    for x in vals:
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
            v.fail(f"{f}.values", "finite numbers", x)
    scale = spec.get("scale", "values")
    if scale not in SCALES + ("values",):
        v.fail(f"{f}.scale", f"one of {list(SCALES)}", scale)
    if scale == "log" and min(vals) <= 0:
        v.fail(f"{f}.values", "numbers > 0 for a log axis", min(vals))
    return tuple(float(x) for x in vals), scale


def _switch_values(v: _Validator, f: str, spec: dict) -> tuple[tuple, str]:
    """``[false, true]`` (any order, no repeats, no numbers mixed in): ``((0.0, 1.0), "switch")``."""
    vals = spec["values"]
    if not all(isinstance(x, bool) for x in vals):
        v.fail(f"{f}.values", "all numbers or all true/false (a switch), not both", vals)
    if len(set(vals)) != len(vals):
        v.fail(f"{f}.values", "distinct switch values (false, true)", vals)
    if spec.get("scale", "switch") != "switch":
        v.fail(f"{f}.scale", "no scale for a switch (true/false values)", spec["scale"])
    return tuple(float(x) for x in vals), "switch"


def _spaced_axis(v: _Validator, f: str, spec: dict) -> tuple[tuple, str]:
    """``{min, max, num, scale}``: ``num`` points from ``min`` to ``max``, evenly or geometrically spaced."""
    extra = set(spec) - {"min", "max", "num", "scale"}
    if extra:
        v.fail(f"{f}.{sorted(extra)[0]}", "min, max, num, scale", sorted(extra)[0])
    lo = v.number(spec, "min", required=True, prefix=f + ".")
    hi = v.number(spec, "max", required=True, prefix=f + ".")
    num = v.integer(spec, "num", required=True, prefix=f + ".")
    if num < 1:
        v.fail(f"{f}.num", "an integer ≥ 1", num)
    if num > MAX_AXIS_POINTS:  # refused before the values are made: an axis is held on the host
        v.fail(f"{f}.num", f"at most {MAX_AXIS_POINTS:,} points on one axis (its values are held in memory; "
                           "a larger grid comes from more axes)", num)
    scale = v.choice(spec, "scale", SCALES, default="linear", prefix=f + ".")
    if lo > hi:
        v.fail(f"{f}.min", f"min ≤ max ({hi})", lo)
    if scale == "log" and lo <= 0:
        v.fail(f"{f}.min", "a number > 0 for a log axis", lo)
    if num == 1:
        return (lo,), scale
    space = np.geomspace if scale == "log" else np.linspace
    return tuple(float(x) for x in space(lo, hi, num)), scale


def _problem_routes(v, axes, loss: LossSpec, init: InitSpec):
    """A Problem's ``loss.<p>`` axes must be keywords its loss accepts; its initial point is its own."""
    from lrsweep import problem as _problem

    if init.points is not None or init.count != 1:
        v.fail("init.points" if init.points is not None else "init.count",
               "no initial points beside a Problem (it has params= or init=)", "points")
    swept = [a.route.param for a in axes if a.route.kind == "loss"]
    ok = _problem.accepted(loss.problem.loss, swept)
    for p in swept:
        if p not in ok or p in ("key", "params", "batch"):
            v.fail(f"axes.loss.{p}", f"a keyword argument of the problem's loss ({loss.name})", p)


def _check_routes(v, axes, loss: LossSpec, opt: OptimizerSpec, sched: ScheduleSpec, init: InitSpec, n_points):
    """Every axis reaches a consumer that takes it (:func:`route`), and the optimizer gets every argument
    it needs: a learning rate (fixed, swept, or per group) and a callable optimizer's required ones."""
    if not v.resolve:
        return  # a results directory's sweep.toml: validated when it was written; its user code is not imported
    if loss.problem is not None:
        _problem_routes(v, axes, loss, init)
    check = {"optimizer": _optimizer_axis(v, opt), "group_learning_rate": lambda a: _group_axis(v, a),
             "schedule": _schedule_axis(v, axes, sched), "loss": _loss_axis(v, loss),
             "init": lambda a: _init_axis(v, a, n_points)}
    for a in axes:
        if a.name == "batch_size":
            v.fail(f"axes.{a.name}", "an axis other than batch_size (it sets the shapes of the compiled program; "
                                     "run one sweep per batch size)", a.name)
        if a.route.kind in check:
            check[a.route.kind](a)
    _check_learning_rate(v, axes, opt)
    _check_required(v, axes, opt)


def _optimizer_axis(v, opt: OptimizerSpec):
    """The check of an axis routed to the optimizer: one of its numeric hyperparameters."""
    known = _optimizers.describe_optimizer(opt.builder)

    def check(a: Axis):
        p = a.route.param
        if p not in known:
            import difflib

            close = difflib.get_close_matches(p, list(known), n=1)
            v.fail(f"axes.{a.name}", "an optimizer hyperparameter, schedule.<param>, loss.<param>, init.scale, "
                   "init.index or seed" + (f" (did you mean {close[0]!r}?)" if close else ""), a.name)
        if isinstance(opt.params.get(p), bool):
            v.fail(f"axes.{a.name}", f"a numeric hyperparameter (optimizer.{p} is a switch)", p)

    return check


def _group_axis(v, a: Axis) -> None:
    """A ``learning_rate.<group>`` axis: one group's rates, ≥ 0 (the group is checked against the loss)."""
    if not a.route.param or "." in a.route.param:
        v.fail(f"axes.{a.name}", "learning_rate.<group>, a top-level key of the loss's parameters", a.name)
    if min(a.values) < 0:
        v.fail(f"axes.{a.name}.values", "learning rates ≥ 0", min(a.values))


def _schedule_axis(v, axes, sched: ScheduleSpec):
    """The check of a ``schedule.<p>`` axis: a sweepable parameter of a schedule the sweep runs."""
    names = [a.values for a in axes if a.route.kind == "schedule_name"]
    active = list(names[0]) if names else [sched.name]
    known = _schedules.describe_schedules()

    def check(a: Axis):
        p = a.route.param
        if callable(sched.name):
            v.fail(f"axes.{a.name}", "no schedule.<param> axis beside a callable schedule", "an axis")
        ok = [s for s in active if p in known[s]]
        if not ok:
            v.fail(f"axes.{a.name}", f"a parameter of schedule {'/'.join(active)}", p)
        for s in ok:
            if p in _schedules.static_params(s):
                v.fail(f"axes.{a.name}", f"a sweepable parameter (schedule.{p} of {s!r} is fixed on the host)", p)

    return check


def _loss_axis(v, loss: LossSpec):
    """The check of a ``loss.<p>`` axis of a built-in or named loss: a numeric parameter it accepts
    (a Problem's are checked by :func:`_problem_routes`)."""
    if loss.problem is not None:
        return lambda a: None
    static = getattr(_losses.resolve_loss(loss.name), "static", frozenset())
    accepted = _losses.describe_losses().get(loss.name) if loss.name in _losses.LOSSES else None

    def check(a: Axis):
        p = a.route.param
        if accepted is not None and p not in accepted:
            v.fail(f"axes.{a.name}", f"a parameter of loss {loss.name!r} ({', '.join(accepted)})", p)
        if p in static:
            v.fail(f"axes.{a.name}", f"a numeric parameter (loss.{p} is structural: it sets shapes or code, "
                                     "so it cannot be swept)", p)

    return check


def _init_axis(v, a: Axis, n_points: int) -> None:
    """``init.scale``, or ``init.index`` below the number of initial points."""
    if a.name not in INIT_AXES:
        v.fail(f"axes.{a.name}", "init.scale or init.index", a.name)
    if a.name == "init.index" and max(a.values) >= n_points:
        v.fail(f"axes.{a.name}.values", f"indices < {n_points} (the number of initial points)", max(a.values))


def _check_learning_rate(v, axes, opt: OptimizerSpec) -> None:
    """A learning rate fixed, swept, or per group; fixed group rates ≥ 0."""
    swept = any(a.route == Route("optimizer", "learning_rate") or a.route.kind == "group_learning_rate"
                for a in axes)
    fixed = opt.params.get("learning_rate")
    if isinstance(fixed, dict):  # [optimizer] learning_rate.<group> = value
        for g, x in fixed.items():
            if isinstance(x, bool) or not isinstance(x, (int, float)) or not x >= 0:
                v.fail(f"optimizer.learning_rate.{g}", "a learning rate ≥ 0", x)
    if not swept and "learning_rate" not in opt.params:
        v.fail("optimizer.learning_rate", "a learning rate (set it, or sweep it under [axes])", None)


def _check_required(v, axes, opt: OptimizerSpec) -> None:
    """A callable optimizer's required arguments, fixed under ``[optimizer]`` or swept."""
    given = {a.route.param for a in axes if a.route.kind == "optimizer"} | set(opt.params)
    for p in _optimizers.required(opt.builder):
        if p != "learning_rate" and p not in given:
            v.fail(f"optimizer.{p}", f"a value for argument {p!r} of optimizer {opt.name} "
                   "(fix it under [optimizer] or sweep it under [axes])", None)


def canonical(name: str) -> str:
    """The one route an axis name takes: ``optimizer.<p>`` is the optimizer's ``<p>``.

    >>> canonical("optimizer.learning_rate"), canonical("momentum"), canonical("schedule.decay_rate")
    ('learning_rate', 'momentum', 'schedule.decay_rate')
    """
    r = route(name)
    return r.param if r.kind == "optimizer" else name


def _check_one_name(v, axes, loss: LossSpec, opt: OptimizerSpec, sched: ScheduleSpec, init_raw: dict) -> None:
    """Each hyperparameter is named once: two axes naming one route (``learning_rate`` and
    ``optimizer.learning_rate``), or a fixed value and an axis of the same parameter, are refused
    (one would silently win while the table labels rows with the other's values)."""
    seen: dict[str, str] = {}
    for a in axes:
        c = canonical(a.name)
        if c in seen:
            v.fail(f"axes.{a.name}", f"each hyperparameter named once (axes.{seen[c]} names the same one)", a.name)
        seen[c] = a.name
    fixed = {p: f"optimizer.{p}" for p in opt.params if not isinstance(opt.params[p], dict)}
    fixed |= {f"learning_rate.{g}": f"optimizer.learning_rate.{g}"
              for g in (opt.params.get("learning_rate") if isinstance(opt.params.get("learning_rate"), dict) else {})}
    fixed |= {f"schedule.{p}": f"schedule.{p}" for p in sched.params}
    fixed |= {f"loss.{p}": f"loss.{p}" for p in loss.params}
    # [init] always holds scale/index/seed in a resolved sweep.toml: only a value other than the default
    # beside an axis of the same name is a second name
    fixed |= {f"init.{p}": f"init.{p}" for p, d in (("scale", 1.0), ("index", 0)) if init_raw.get(p, d) != d}
    fixed |= {"seed": "init.seed"} if init_raw.get("seed", 0) != 0 else {}
    for c, axis in seen.items():
        if c in fixed:
            v.fail(fixed[c], f"a fixed value or an axis, not both (axes.{axis} sweeps it)", "both")


def _kind(p: inspect.Parameter) -> str | None:
    """What a hyperparameter takes, read from its default and annotation: ``"bool"``, ``"integer"``,
    ``"number"``, or ``None`` (anything else: a callable, a mask, a dtype — not checked here)."""
    d = p.default
    if isinstance(d, bool):
        return "bool"
    names = _type_names(p.annotation) - {"NoneType"} if p.annotation is not p.empty else set()
    if names == {"bool"}:
        return "bool"
    if names == {"int"}:
        return "integer"
    if names & {"float", "number"} and not names & {"str", "Any", "Callable", "dtype"}:
        return "number"
    if not names and isinstance(d, (int, float)):
        return "number"
    return None


def _type_names(annotation) -> set[str]:
    import typing

    if isinstance(annotation, str):
        return {w.strip() for w in annotation.replace("|", ",").replace("[", ",").replace("]", ",").split(",")
                if w.strip()} | ({"float"} if "Scalar" in annotation or "ArrayLike" in annotation else set())
    args = typing.get_args(annotation)
    if args:
        return set().union(*(_type_names(a) for a in args))
    return {getattr(annotation, "__name__", str(annotation))}


def _check_value(v, field_: str, kind: str, x, dtype: str, what: str) -> None:
    if kind == "bool":
        if not isinstance(x, bool):
            v.fail(field_, f"true or false ({what} is a switch)", x)
        return
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        v.fail(field_, f"{'an integer' if kind == 'integer' else 'a number'} ({what})", x)
    if kind == "integer" and not float(x).is_integer():
        v.fail(field_, f"an integer ({what})", x)
    if not math.isfinite(x):
        v.fail(field_, f"a finite number ({what})", x)
    big = float(np.finfo(dtype).max)
    if abs(x) > big:
        v.fail(field_, f"a number representable in {dtype} (|x| ≤ {big:.4g})", x)


def _check_loss_types(v, loss: LossSpec, dtype: str) -> None:
    """A built-in loss's fixed parameters: a switch where its default is one, a number where its default is,
    and every number (alone or in a list) finite and representable in the dtype."""
    if loss.problem is not None:
        return
    defaults = _losses.describe_losses().get(loss.name, {}) if loss.name in _losses.LOSSES else {}
    for k, x in loss.params.items():
        d = defaults.get(k)
        what = f"{k} of loss {loss.name!r}"
        if isinstance(d, bool):
            _check_value(v, f"loss.{k}", "bool", x, dtype, what)
        elif isinstance(d, (int, float)) or (isinstance(x, (int, float)) and not isinstance(x, bool)):
            _check_value(v, f"loss.{k}", "number", x, dtype, what)
        elif isinstance(x, list):
            for y in (y for row in x for y in (row if isinstance(row, list) else [row])):
                if isinstance(y, (int, float)) and not isinstance(y, bool):
                    _check_value(v, f"loss.{k}", "number", y, dtype, what)


def _check_types(v, axes, opt: OptimizerSpec, sched: ScheduleSpec, dtype: str, loss: LossSpec | None = None) -> None:
    """Every optimizer and schedule hyperparameter's type, against the factory's signature and defaults
    (a string or ``true`` where a number is expected, a number where a switch is), and every swept
    value representable in the sweep's dtype (1e39 is ``inf`` in float32)."""
    big = float(np.finfo(dtype).max)
    for a in axes:
        if not a.categorical:
            x = max(a.values, key=abs)
            if abs(x) > big:
                v.fail(f"axes.{a.name}.values", f"numbers representable in {dtype} (|x| ≤ {big:.4g})", x)
    if not v.resolve:
        return
    try:
        params = _optimizers._signature(_optimizers.resolve_optimizer(opt.builder))
    except ValueError:
        params = {}
    what = f"optax.{opt.name}" if opt.factory is None else f"optimizer {opt.name}"
    for k, x in opt.params.items():
        kind = _kind(params[k]) if k in params else None
        if k == "learning_rate":
            kind = None if isinstance(x, dict) else "number"  # groups: checked with the routes
        if kind is not None:
            _check_value(v, f"optimizer.{k}", kind, x, dtype, f"{k} of {what}")
    for a in axes:
        c = canonical(a.name)
        if c in params and _kind(params[c]) == "bool":
            v.fail(f"axes.{a.name}", f"a numeric hyperparameter ({c} of {what} is a switch)", a.name)
    if loss is not None:
        _check_loss_types(v, loss, dtype)
    if callable(sched.name):
        return
    known = _schedules.describe_schedules()
    for name, given in [(sched.name, sched.params), *sched.variants.items()]:
        for k, x in given.items():
            d = known.get(name, {}).get(k)
            kind = "bool" if isinstance(d, bool) else "number" if isinstance(d, (int, float)) else None
            if kind is not None:
                _check_value(v, f"schedule.{k}" if name == sched.name else f"schedule.{name}.{k}", kind, x, dtype,
                             f"{k} of schedule {name!r}")


def _sorted_boundary_axis(v, axes: tuple, name: str | None) -> tuple:
    """The boundary axis in increasing order (the search brackets sign changes between neighbours);
    repeated values are refused."""
    if name is None:
        return axes
    a = next(x for x in axes if x.name == name)
    if len(set(a.values)) != len(a.values):
        v.fail(f"axes.{name}.values", "distinct values on the boundary axis",
               next(x for x in a.values if a.values.count(x) > 1))
    if list(a.values) == sorted(a.values):
        return axes
    return tuple(dataclasses.replace(x, values=tuple(sorted(x.values))) if x.name == name else x for x in axes)


def _boundary_spec(v, t: dict, axes) -> BoundarySpec:
    for k in t:
        if k not in ("axis", "rtol", "max_rounds", "asymptotic", "sharpness", "sensitivity_range", "sensitivity_loss"):
            v.fail(f"boundary.{k}", "axis, rtol, max_rounds, asymptotic, sharpness, sensitivity_range or "
                   "sensitivity_loss", k)
    names = [a.name for a in axes]
    default_axis = "learning_rate" if "learning_rate" in names else None
    axis = v.string(t, "axis", default=default_axis, prefix="boundary.")
    if axis in ("", "none"):  # no boundary search
        axis = None
    if axis is not None:
        if axis not in names:
            v.fail("boundary.axis", f"one of the swept axes {names}", axis)
        ax = next(a for a in axes if a.name == axis)
        if ax.categorical or axis in INTEGER_AXES:
            v.fail("boundary.axis", "a continuous axis", axis)
    rtol = v.number(t, "rtol", default=1e-4, positive=True, prefix="boundary.")
    rounds = v.integer(t, "max_rounds", default=64, minimum=0, prefix="boundary.")
    asym = t.get("asymptotic", True)
    if not isinstance(asym, bool):
        v.fail("boundary.asymptotic", "true or false", asym)
    sharp = t.get("sharpness", True)
    if not isinstance(sharp, bool):
        v.fail("boundary.sharpness", "true or false", sharp)
    lr_range = _sensitivity_range(v, t.get("sensitivity_range"), names)
    loss = v.string(t, "sensitivity_loss", default="final_loss", prefix="boundary.")
    if not loss:
        v.fail("boundary.sensitivity_loss", "a column of the results table (final_loss, eval_loss, a metric)", loss)
    return BoundarySpec(axis=axis, rtol=rtol, max_rounds=rounds, asymptotic=asym, sharpness=sharp,
                        sensitivity_range=lr_range, sensitivity_loss=loss)


SENSITIVITY_LOSSES = ("final_loss", "min_loss")
"""Columns whose initial value is the table's ``initial_loss``; any other ``sensitivity_loss`` (``eval_loss``,
a metric, ``eval_<metric>``) is evaluated at each slice's initial parameters (:mod:`lrsweep.reference`)."""


def _sensitivity_range(v, r, names: list[str]) -> tuple[float, float] | None:
    """``[a, b]`` with ``0 < a < b`` finite, on a sweep with a ``learning_rate`` axis; ``None`` when not given."""
    if r is None:
        return None
    what = "[a, b]: two learning rates 0 < a < b, e.g. [3e-4, 3e-1]"
    if not isinstance(r, (list, tuple)) or len(r) != 2 or any(
            isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x) for x in r):
        v.fail("boundary.sensitivity_range", what, r)
    a, b = float(r[0]), float(r[1])
    if not 0 < a < b:
        v.fail("boundary.sensitivity_range", what, r)
    if "learning_rate" not in names:
        v.fail("boundary.sensitivity_range", f"a sweep with a learning_rate axis (axes: {names})", r)
    return (a, b)


def _trajectory_spec(v, t, axes) -> TrajectorySpec | None:
    if t is None:
        return None
    if not isinstance(t, dict):
        v.fail("trajectories", "a table", t)
    names = {a.name: a for a in axes}
    every = v.integer(t, "every", default=1, minimum=1, prefix="trajectories.")
    max_params = v.integer(t, "max_params", default=16, minimum=0, prefix="trajectories.")
    steps = v.integer(t, "steps", default=None, minimum=1, prefix="trajectories.")
    metrics = _trajectory_metrics(v, t.get("metrics", True))
    select = {}
    for k, val in _flatten_axes({k: x for k, x in t.items() if k not in ("every", "max_params", "steps", "metrics")}):
        if k not in names:
            v.fail(f"trajectories.{k}", f"a swept axis ({', '.join(names)})", k)
        vals = val if isinstance(val, list) else [val]
        if names[k].categorical:
            for x in vals:
                if x not in names[k].values:
                    v.fail(f"trajectories.{k}", f"values from {list(names[k].values)}", x)
            select[k] = tuple(vals)
        else:
            for x in vals:
                if isinstance(x, bool) or not isinstance(x, (int, float)):
                    v.fail(f"trajectories.{k}", "numbers", x)
            select[k] = tuple(float(x) for x in vals)
    if not select:
        v.fail("trajectories", "at least one axis with the values to record, e.g. learning_rate = [0.8, 1.2]", t)
    n = math.prod(len(x) for x in select.values())
    if n > 256:
        v.fail("trajectories", "at most 256 recorded configurations", n)
    return TrajectorySpec(select=select, every=every, max_params=max_params, steps=steps, metrics=metrics)


def _trajectory_metrics(v, m) -> bool | tuple[str, ...]:
    """``true`` / ``false`` or a list of distinct column names (checked against the problem by
    :func:`lrsweep.checks.check_trajectories`, once the problem is loaded)."""
    if isinstance(m, bool):
        return m
    what = 'true, false or a list of metric names, e.g. ["attn_logit_0", "update_rms"]'
    if not isinstance(m, (list, tuple)) or not all(isinstance(x, str) and x.isidentifier() for x in m):
        v.fail("trajectories.metrics", what, m)
    if len(set(m)) != len(m):
        v.fail("trajectories.metrics", "distinct names", m)
    return tuple(m)
