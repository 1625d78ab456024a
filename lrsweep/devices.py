"""Devices: CPU cores as JAX devices, and JAX's distributed runtime for multi-host runs.

lrsweep shards the configuration axis over *local* devices (:class:`lrsweep.engine.Program`, with
``jax.shard_map``). On a CPU host JAX shows one device for all cores; :func:`host_devices` asks it
for one device per core (``jax_num_cpu_devices``) before the backend starts, so both halves of a
2-core machine each run their share of a chunk. On several hosts, :func:`initialize` joins JAX's own
distributed runtime (``jax.distributed.initialize``): each process then runs every ``P``-th chunk on
its local devices and the metrics are gathered with JAX's collectives
(``multihost_utils.process_allgather``; on CPU through gloo). No cluster code of lrsweep's own.
"""

from __future__ import annotations

import os


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def host_devices(n: int | None = None) -> None:
    """Expose ``n`` CPU devices (default: one per core; 0 means the default) if JAX has not started yet.

    Only the CPU platform is affected (a GPU or TPU host keeps its accelerators as the default
    devices). Does nothing when the user already chose (``XLA_FLAGS`` with
    ``--xla_force_host_platform_device_count``, or ``JAX_NUM_CPU_DEVICES``) or when JAX's backends
    are already running.
    """
    if "--xla_force_host_platform_device_count" in os.environ.get("XLA_FLAGS", "") or \
            "JAX_NUM_CPU_DEVICES" in os.environ:
        return
    import jax

    try:
        jax.config.update("jax_num_cpu_devices", n if n else _cores())
    except RuntimeError:  # JAX refuses the change once its backends run: they keep the devices they have
        return


def initialize(coordinator: str | None = None, num_processes: int | None = None,
               process_id: int | None = None) -> None:
    """Join a multi-process run through ``jax.distributed.initialize``.

    Each argument defaults to the environment (``JAX_COORDINATOR_ADDRESS``, ``JAX_NUM_PROCESSES``,
    ``JAX_PROCESS_ID``), and where those are unset JAX detects Slurm and Open MPI jobs itself. CPU
    processes exchange results through gloo.
    """
    import jax

    coordinator = coordinator or os.environ.get("JAX_COORDINATOR_ADDRESS")
    if num_processes is None and "JAX_NUM_PROCESSES" in os.environ:
        num_processes = int(os.environ["JAX_NUM_PROCESSES"])
    if process_id is None and "JAX_PROCESS_ID" in os.environ:
        process_id = int(os.environ["JAX_PROCESS_ID"])
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    try:
        jax.distributed.initialize(coordinator, num_processes, process_id)
    except (ValueError, RuntimeError) as e:
        raise RuntimeError(f"--distributed: jax.distributed.initialize failed: {str(e).splitlines()[0]} "
                           "(give --coordinator HOST:PORT --num-processes P --process-id I, or run under "
                           "Slurm / Open MPI)") from None


def process_index() -> int:
    import jax

    return jax.process_index()


def process_count() -> int:
    import jax

    return jax.process_count()


def barrier(name: str) -> None:
    """Wait until every process reaches ``name``."""
    from jax.experimental import multihost_utils as mh

    mh.sync_global_devices(name)
