"""What one isolated run may use (``WorkerLimits``), and the error when it uses more
(``WorkerError``, with the ``reason`` that says which limit or what else ended it)."""

from __future__ import annotations

from dataclasses import dataclass

from algobt.errors import ConfigError, StrategyError


@dataclass(frozen=True)
class WorkerLimits:
    """The resources one isolated run may use.

    cpu_seconds: CPU time of the worker process for the job (imports not counted).
    memory_mb: the worker's address space (``RLIMIT_AS``), libraries included; a
        normal run needs ~660 MB of it.
    wall_seconds: real time the parent waits for the run (for a stream: see the
        module docs).
    max_processes: processes the strategy may start besides the worker itself
        (fork-bomb guard; ``pids.max`` of a cgroup, when one is used, is this
        plus 64 so the worker's own threads fit).
    file_mb: the largest file the worker may write (``RLIMIT_FSIZE``).
    max_message_mb: the largest single message the parent accepts from the worker.
    use_cgroup: put each run in its own ``pids`` cgroup when one can be made.
    """

    cpu_seconds: float = 30
    memory_mb: int = 1024
    wall_seconds: float = 60
    max_processes: int = 16
    file_mb: int = 64
    max_message_mb: int = 256
    use_cgroup: bool = True

    def __post_init__(self):
        for name in ("cpu_seconds", "memory_mb", "wall_seconds", "file_mb", "max_message_mb"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise ConfigError(f"WorkerLimits.{name} must be a number > 0", field=name)
        if not isinstance(self.max_processes, int) or self.max_processes < 0:
            raise ConfigError(
                "WorkerLimits.max_processes must be a whole number >= 0", field="max_processes"
            )


class WorkerError(StrategyError):
    """An isolated run that hit a limit, crashed, was cancelled or failed inside the worker.

    reason: ``cpu``, ``memory``, ``wall``, ``processes``, ``file_size``, ``crash``,
    ``cancelled`` or ``internal``.
    """

    def __init__(self, message: str, *, reason: str, field: str | None = None):
        super().__init__(message, field=field)
        self.reason = reason


def limit_error(reason: str, limits: WorkerLimits, detail: str = "") -> WorkerError:
    """The error for a run that hit the limit ``reason`` (cpu, memory, wall, processes,
    file_size), naming the limit's value."""
    what = {
        "cpu": f"its CPU limit of {limits.cpu_seconds:g} s",
        "memory": f"its memory limit of {limits.memory_mb:g} MB",
        "wall": f"its wall-clock limit of {limits.wall_seconds:g} s",
        "processes": f"its process limit of {limits.max_processes} extra processes",
        "file_size": f"its file size limit of {limits.file_mb:g} MB",
    }[reason]
    message = f"strategy exceeded {what}"
    if detail:
        message += f" ({detail})"
    return WorkerError(message, reason=reason)
