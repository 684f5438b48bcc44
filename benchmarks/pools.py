"""Worker pools for vendor-bound work: actions/s per worker against a vendor answering in 200 ms.

For each pool (``threads``, ``prefork``, ``gevent``) and concurrency, one
worker (for prefork one parent and its N children: "per worker process" means
per *process group*, i.e. per ``patchbay worker`` command) runs side-effectful
``widgets.widgets.create`` steps, enqueued through ``Executor.enqueue`` with
idempotency keys, against a served FakeWidgets that answers every
``POST /v1/widgets`` after 200 ms. Real Redis (broker, results, throttle) and
PostgreSQL (ledger), each in its own db/schema (``benchmarks.executor.Bench``).

Per run, all from one run:

- actions/s in the steady state (the ledger's ``completed_at`` of the middle
  60% of the steps), the ideal ``concurrency / 0.2 s`` and their ratio (target
  >= 0.9 until the CPU is the limit); the slot cycle (concurrency / actions/s:
  200 ms plus what the worker adds to each step);
- CPU of the worker group, of the whole machine and of this driver (the fake
  vendor, the polling) over the same window, from ``/proc``, to tell when the
  CPU is the limit;
- memory of the worker group (RSS and PSS, children summed for prefork; PSS
  counts a page shared by N processes as 1/N in each) idle after a warm-up
  and under load, and per slot;
- every step SUCCEEDED exactly once: the ledger has one SUCCEEDED row per key
  and the fake saw exactly one ``POST /v1/widgets`` per step. A pool that
  loses or repeats a step, or does not finish, is reported as failed.

The worker starts consuming only a private queue; the steps are enqueued while
it does not consume the provider's queue, then one ``add_consumer`` control
command starts the run, so enqueueing does not compete with it for the CPU.

``gevent`` is patched early, as ``celery -P gevent`` does (celery's
``maybe_patch_concurrency`` before anything else is imported). The variant
``gevent-late`` is what ``app.worker_main([..., "--pool=gevent"])`` (so
``patchbay worker --pool gevent``) does today: no monkey-patching at all.
gevent is not one of patchbay's dependencies: ``pip install gevent`` to run
those variants; without it they are reported as not installed.

Run: ``./dev bench pools`` (``--pools``, ``--concurrency``, ``--seconds``,
``--json``; ``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.processes import stop_processes  # the standard library only: safe before patching

if TYPE_CHECKING:
    from benchmarks.executor import Bench
    from executor.api import Executor
    from executor.app import ExecutorRuntime
    from sandbox.widgets import FakeWidgets

ROOT = Path(__file__).resolve().parents[1]
VENDOR_DELAY = 0.2
TARGET_RATIO = 0.9
QUEUE = "patchbay.widgets"
CONTROL_QUEUE = "bench"
ACTION = "widgets.widgets.create"
# variant -> (Celery pool, monkey-patch early as ``celery -P gevent`` does)
VARIANTS: dict[str, tuple[str, bool]] = {
    "threads": ("threads", False),
    "prefork": ("prefork", False),
    "gevent": ("gevent", True),
    "gevent-late": ("gevent", False),
}
DEFAULT_POOLS = ("threads", "prefork", "gevent")
DEFAULT_CONCURRENCY = (4, 8, 16, 32, 64)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
SAMPLE_EVERY = 0.25
MEMORY_EVERY = 1.0


# -- the worker process ---------------------------------------------------------


def run_worker(argv: Sequence[str]) -> None:
    """``python -m benchmarks.pools worker``: a benchmark worker on one pool.

    The widgets integration and ``bench.noop`` of ``benchmarks.executor_worker``,
    consuming only the private ``bench`` queue until told (``add_consumer``).
    """
    parser = argparse.ArgumentParser(prog="benchmarks.pools worker")
    parser.add_argument("--name", required=True)
    parser.add_argument("--pool", required=True)
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--patch-early", action="store_true")
    args = parser.parse_args(argv)
    if args.patch_early:
        # What ``celery -P gevent`` does before importing anything of the app:
        # psycopg picks its wait function at import, cooperative only if
        # ``select`` is already patched then.
        import celery

        celery.maybe_patch_concurrency(["worker", f"--pool={args.pool}"])
    from benchmarks.executor_worker import build_runtime

    runtime = build_runtime()
    runtime.app.worker_main(
        [
            "worker",
            f"--hostname={args.name}",
            f"--pool={args.pool}",
            f"--concurrency={args.concurrency}",
            f"--queues={CONTROL_QUEUE}",
            "--loglevel=WARNING",
            "--without-gossip",
            "--without-mingle",
            "--task-events",
        ]
    )


# -- /proc ----------------------------------------------------------------------


def children_of(pid: int) -> list[int]:
    """The direct children of ``pid`` (a prefork worker's pool processes)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry))
    return found


def cpu_ticks(pids: Sequence[int]) -> int:
    """utime + stime of ``pids`` (their own, not their children's), in clock ticks."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total


def machine_ticks() -> tuple[int, int]:
    """(busy, total) clock ticks of every CPU since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def memory_kb(pids: Sequence[int]) -> tuple[int, int]:
    """(RSS, PSS) of ``pids`` summed, in KiB."""
    rss = pss = 0
    for pid in pids:
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith("Rss:"):
                rss += int(line.split()[1])
            elif line.startswith("Pss:"):
                pss += int(line.split()[1])
    return rss, pss


@dataclass
class Sample:
    at: float
    done: int
    worker_ticks: int
    driver_ticks: int
    busy: int
    total: int
    rss_kb: int | None = None
    pss_kb: int | None = None


# -- one run ----------------------------------------------------------------------


@dataclass
class Run:
    """One pool at one concurrency."""

    variant: str
    pool: str
    concurrency: int
    steps: int
    ideal_per_s: float
    processes: int = 0
    completed: bool = False
    exactly_once: bool = False
    actions_per_s: float | None = None
    ratio: float | None = None
    slot_cycle_ms: float | None = None
    step_p50_ms: float | None = None
    worker_cpu_pct: float | None = None
    machine_cpu_pct: float | None = None
    driver_cpu_pct: float | None = None
    rss_idle_mb: float | None = None
    rss_load_mb: float | None = None
    pss_idle_mb: float | None = None
    pss_load_mb: float | None = None
    pss_per_slot_kb: float | None = None
    pss_growth_per_slot_kb: float | None = None
    ledger: dict[str, int] = field(default_factory=dict)
    vendor_creates: int = 0
    vendor_duplicates: int = 0
    errors: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return dict(vars(self))


def _mb(kb: float | None) -> float | None:
    return None if kb is None else round(kb / 1024, 1)


class Driver:
    """The bench's database, Redis, fake vendor and enqueueing side, shared by every run."""

    def __init__(
        self, bench: Bench, fake: FakeWidgets, runtime: ExecutorRuntime, executor: Executor
    ) -> None:
        self.bench = bench
        self.broker_url = bench.settings.broker_url
        self.fake = fake
        self.executor = executor
        self.runtime = runtime
        # Declared here: the worker declares only the queue it starts on, and on
        # RabbitMQ its delayed-delivery setup binds every provider queue.
        with self.runtime.app.connection_for_write() as conn:
            for queue in self.runtime.app.amqp.queues.values():
                queue(conn.default_channel).declare()

    # -- the worker -----------------------------------------------------------

    def start_worker(
        self, variant: str, concurrency: int, log: Path
    ) -> tuple[subprocess.Popen[bytes], str]:
        pool, early = VARIANTS[variant]
        name = f"{variant}-{concurrency}-{uuid.uuid4().hex[:4]}@bench"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "benchmarks.pools",
                    "worker",
                    f"--name={name}",
                    f"--pool={pool}",
                    f"--concurrency={concurrency}",
                    *(["--patch-early"] if early else []),
                ],
                cwd=ROOT,
                env=self.bench.env(PATCHBAY_BROKER_URL=self.broker_url),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return proc, name

    def wait_ready(self, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
        result = self.runtime.app.send_task("bench.noop", queue=CONTROL_QUEUE)
        deadline = time.monotonic() + timeout
        while not result.ready():
            if proc.poll() is not None:
                raise RuntimeError(f"the worker exited ({proc.returncode}) before it was ready")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the worker was not ready after {timeout:g} s")
            time.sleep(0.05)

    def consume(self, name: str, on: bool, timeout: float = 30) -> None:
        """Start or stop the worker consuming the provider's queue (a control command)."""
        control = self.runtime.app.control
        command = control.add_consumer if on else control.cancel_consumer
        replies = command(QUEUE, destination=[name], reply=True, timeout=timeout)
        if not replies:
            raise RuntimeError(f"the worker did not answer {'add' if on else 'cancel'}_consumer")

    # -- steps ------------------------------------------------------------------

    def enqueue(self, tag: str, n: int) -> None:
        from benchmarks.executor import TENANT_A

        for i in range(n):
            self.executor.enqueue(
                ACTION,
                tenant_id=TENANT_A,
                input={"name": f"{tag}-{i}"},
                idempotency_key=f"{tag}-{i}",
            )

    def done(self, tag: str) -> int:
        from sqlalchemy import text

        with self.bench.store.engine.connect() as conn:
            count = conn.execute(
                text(
                    "SELECT count(*) FROM workflow_action_invocations "
                    "WHERE idempotency_key LIKE :k AND completed_at IS NOT NULL"
                ),
                {"k": f"{tag}-%"},
            ).scalar_one()
        return int(count)

    def rows(self, tag: str) -> list[Any]:
        from sqlalchemy import text

        with self.bench.store.engine.connect() as conn:
            return list(
                conn.execute(
                    text(
                        "SELECT idempotency_key, status, attempt, started_at, completed_at, "
                        "error_json "
                        "FROM workflow_action_invocations WHERE idempotency_key LIKE :k"
                    ),
                    {"k": f"{tag}-%"},
                )
            )

    def wait_done(self, tag: str, n: int, proc: subprocess.Popen[bytes], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.done(tag) < n:
            if proc.poll() is not None:
                raise RuntimeError(f"the worker exited ({proc.returncode})")
            if time.monotonic() > deadline:
                raise RuntimeError(f"warm-up: not all {n} steps final after {timeout:g} s")
            time.sleep(0.05)

    def discard(self, tag: str) -> None:
        """Forget a run that did not finish: its queued messages and unfinished rows."""
        from sqlalchemy import text

        self.runtime.app.control.purge()
        with self.bench.store.engine.begin() as conn:
            conn.execute(
                text(
                    "DELETE FROM workflow_action_invocations "
                    "WHERE idempotency_key LIKE :k AND completed_at IS NULL"
                ),
                {"k": f"{tag}-%"},
            )

    # -- a run --------------------------------------------------------------------

    def run(self, variant: str, concurrency: int, seconds: float, tmp: Path) -> Run:
        pool, _ = VARIANTS[variant]
        ideal = concurrency / VENDOR_DELAY
        steps = max(4 * concurrency, round(ideal * seconds))
        result = Run(variant, pool, concurrency, steps, round(ideal, 1))
        log = tmp / f"worker-{variant}-{concurrency}.log"
        proc, name = self.start_worker(variant, concurrency, log)
        tag = f"{variant}-{concurrency}-{uuid.uuid4().hex[:6]}"
        try:
            self.wait_ready(proc)
            pids = [proc.pid, *children_of(proc.pid)]
            result.processes = len(pids)
            # Warm up every slot (threads started, children connected), then idle.
            self.consume(name, True)
            self.enqueue(f"{tag}-warm", 2 * concurrency)
            self.wait_done(f"{tag}-warm", 2 * concurrency, proc, timeout=120)
            self.consume(name, False)
            time.sleep(1.0)
            pids = [proc.pid, *children_of(proc.pid)]
            rss_idle, pss_idle = memory_kb(pids)
            result.rss_idle_mb, result.pss_idle_mb = _mb(rss_idle), _mb(pss_idle)
            run_tag = f"{tag}-run"
            self.enqueue(run_tag, steps)
            samples = self._measure(proc, name, run_tag, steps, pids, seconds)
            result.completed = samples[-1].done == steps
            self._settle(result, run_tag, samples, pss_idle)
            if not result.completed:
                result.errors.append(
                    f"not finished: {samples[-1].done} of {steps} steps final after "
                    f"{samples[-1].at - samples[0].at:.0f} s"
                )
        except Exception as exc:
            result.errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            stop(proc)
            result.errors.extend(worker_errors(log))
            if not result.completed:
                self.discard(tag)
        return result

    def _measure(
        self,
        proc: subprocess.Popen[bytes],
        name: str,
        tag: str,
        steps: int,
        pids: list[int],
        seconds: float,
    ) -> list[Sample]:
        # Long enough for a pool at a tenth of its ideal, bounded for one that hangs.
        timeout = max(60.0, 10 * seconds)
        samples: list[Sample] = []
        last_memory = 0.0

        def sample(done: int) -> None:
            nonlocal last_memory
            now = time.monotonic()
            busy, total = machine_ticks()
            point = Sample(now, done, cpu_ticks(pids), cpu_ticks([os.getpid()]), busy, total)
            if now - last_memory >= MEMORY_EVERY:
                point.rss_kb, point.pss_kb = memory_kb(pids)
                last_memory = now
            samples.append(point)

        sample(0)
        self.consume(name, True)
        deadline = time.monotonic() + timeout
        while True:
            time.sleep(SAMPLE_EVERY)
            done = self.done(tag)
            sample(done)
            if done >= steps or time.monotonic() > deadline or proc.poll() is not None:
                return samples

    def _settle(self, result: Run, tag: str, samples: list[Sample], pss_idle: int) -> None:
        rows = self.rows(tag)
        statuses: dict[str, int] = {}
        for row in rows:
            statuses[row.status] = statuses.get(row.status, 0) + 1
        statuses["rows"] = len(rows)
        statuses["keys"] = len({row.idempotency_key for row in rows})
        statuses["attempt_gt_1"] = sum(1 for row in rows if row.attempt > 1)
        for row in rows:
            if row.status == "FAILED":
                code = f"FAILED:{(row.error_json or {}).get('code', '?')}"
                statuses[code] = statuses.get(code, 0) + 1
        result.ledger = statuses
        names = [
            call.body.get("name")
            for call in self.fake.calls("POST", "/v1/widgets")
            if isinstance(call.body, dict) and str(call.body.get("name", "")).startswith(tag)
        ]
        result.vendor_creates = len(names)
        result.vendor_duplicates = len(names) - len(set(names))
        result.exactly_once = (
            result.completed
            and statuses.get("SUCCEEDED") == result.steps == statuses["keys"] == len(rows)
            and len(set(names)) == len(names) == result.steps
        )
        if not result.exactly_once and result.completed:
            result.errors.append(
                f"not exactly once: ledger {statuses}, vendor creates {len(names)} "
                f"({result.vendor_duplicates} repeated) for {result.steps} steps"
            )
        finished = sorted(row.completed_at for row in rows if row.completed_at is not None)
        durations = sorted(
            (row.completed_at - row.started_at).total_seconds()
            for row in rows
            if row.completed_at is not None and row.started_at is not None
        )
        if durations:
            result.step_p50_ms = round(1000 * statistics.median(durations), 1)
        if len(finished) >= 10:
            lo, hi = int(0.2 * len(finished)), int(0.8 * len(finished)) - 1
            span = (finished[hi] - finished[lo]).total_seconds()
            if span > 0:
                rate = (hi - lo) / span
                result.actions_per_s = round(rate, 1)
                result.ratio = round(rate / result.ideal_per_s, 3)
                result.slot_cycle_ms = round(1000 * result.concurrency / rate, 1)
        # The same window in the samples: from 20% to 80% of the steps final.
        n = samples[-1].done
        first = next((s for s in samples if s.done >= 0.2 * n), samples[0])
        last = next((s for s in samples if s.done >= 0.8 * n), samples[-1])
        if last.at - first.at < 1.0:  # a quick run: the whole of it
            first, last = samples[0], samples[-1]
        wall = last.at - first.at
        if wall > 0:
            result.worker_cpu_pct = round(
                100 * (last.worker_ticks - first.worker_ticks) / CLOCK_TICKS / wall, 1
            )
            result.driver_cpu_pct = round(
                100 * (last.driver_ticks - first.driver_ticks) / CLOCK_TICKS / wall, 1
            )
            cpus = os.cpu_count() or 1
            result.machine_cpu_pct = round(
                100 * cpus * (last.busy - first.busy) / max(1, last.total - first.total), 1
            )
        loaded = [s for s in samples if s.pss_kb is not None and first.at <= s.at <= last.at]
        loaded = loaded or [s for s in samples if s.pss_kb is not None]
        if loaded:
            rss = statistics.median(s.rss_kb or 0 for s in loaded)
            pss = statistics.median(s.pss_kb or 0 for s in loaded)
            result.rss_load_mb, result.pss_load_mb = _mb(rss), _mb(pss)
            result.pss_per_slot_kb = round(pss / result.concurrency, 1)
            result.pss_growth_per_slot_kb = round((pss - pss_idle) / result.concurrency, 1)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (a warm shutdown), then SIGKILL for the worker and its children."""
    children = children_of(proc.pid)
    stop_processes([proc])
    for child in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)


# Log lines the benchmark itself causes. Cancelling the worker's consumer (between
# runs) hands a message it had prefetched back to the broker; that message is not
# lost, since every run's steps are checked exactly once in the ledger and at the vendor.
BENIGN = ("Requeuing undeliverable message",)


def worker_errors(log: Path, most: int = 5) -> list[str]:
    """The distinct error lines of a worker's log (its last traceback lines included)."""
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return []
    found: list[str] = []
    for i, line in enumerate(lines):
        text = line.strip()
        interesting = ("ERROR" in line or "CRITICAL" in line or "WARNING" in line) and not any(
            benign in line for benign in BENIGN
        )
        if line.startswith("Traceback"):
            # The exception line closes a traceback: the first unindented line after it.
            text = next(
                (after.strip() for after in lines[i + 1 :] if after and not after[0].isspace()),
                "",
            )
            interesting = bool(text)
        if interesting and text not in found:
            found.append(text[:300])
        if len(found) >= most:
            break
    return found


# -- the whole benchmark --------------------------------------------------------


def summarize(runs: list[Run]) -> dict[str, Any]:
    """Per variant: best rate, where it stops scaling (ratio < 0.9) and the CPU there."""
    out: dict[str, Any] = {}
    for variant in dict.fromkeys(r.variant for r in runs):
        mine = sorted((r for r in runs if r.variant == variant), key=lambda r: r.concurrency)
        good = [r for r in mine if r.exactly_once and r.actions_per_s is not None]
        stops = next((r for r in good if (r.ratio or 0) < TARGET_RATIO), None)
        best = max(good, key=lambda r: r.actions_per_s or 0, default=None)
        loads = [r for r in good if r.pss_load_mb is not None]
        growth = None
        if len(loads) >= 2 and loads[-1].concurrency > loads[0].concurrency:
            growth = round(
                1024
                * ((loads[-1].pss_load_mb or 0) - (loads[0].pss_load_mb or 0))
                / (loads[-1].concurrency - loads[0].concurrency),
                1,
            )
        out[variant] = {
            "all_exactly_once": all(r.exactly_once for r in mine),
            "failed_runs": [r.concurrency for r in mine if not r.exactly_once],
            "best_actions_per_s": best.actions_per_s if best else None,
            "best_at_concurrency": best.concurrency if best else None,
            "scales_to": max(
                (r.concurrency for r in good if (r.ratio or 0) >= TARGET_RATIO), default=None
            ),
            "stops_scaling_at": stops.concurrency if stops else None,
            "cpu_where_it_stops": (
                {"worker_pct": stops.worker_cpu_pct, "machine_pct": stops.machine_cpu_pct}
                if stops
                else None
            ),
            "pss_kb_per_extra_slot": growth,
        }
    return out


COLUMNS = (
    ("pool", "variant", "{}"),
    ("conc", "concurrency", "{}"),
    ("procs", "processes", "{}"),
    ("steps", "steps", "{}"),
    ("ideal/s", "ideal_per_s", "{:.0f}"),
    ("actions/s", "actions_per_s", "{:.1f}"),
    ("ratio", "ratio", "{:.2f}"),
    ("cycle ms", "slot_cycle_ms", "{:.0f}"),
    ("step p50", "step_p50_ms", "{:.0f}"),
    ("wkr cpu%", "worker_cpu_pct", "{:.0f}"),
    ("all cpu%", "machine_cpu_pct", "{:.0f}"),
    ("drv cpu%", "driver_cpu_pct", "{:.0f}"),
    ("PSS idle", "pss_idle_mb", "{:.0f}"),
    ("PSS load", "pss_load_mb", "{:.0f}"),
    ("RSS load", "rss_load_mb", "{:.0f}"),
    ("KB/slot", "pss_per_slot_kb", "{:.0f}"),
    ("once", "exactly_once", "{}"),
)


def format_table(report: dict[str, Any]) -> str:
    """The report as a fixed-width table, its summary and any errors."""
    rows = [[title for title, _, _ in COLUMNS]]
    for run in report["runs"]:
        cells = []
        for _, key, fmt in COLUMNS:
            value = run.get(key)
            if isinstance(value, bool):
                cells.append("yes" if value else "NO")
            else:
                cells.append("-" if value is None else fmt.format(value))
        rows.append(cells)
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = [
        f"broker {report['broker']}; vendor answers in {report['vendor_delay_s'] * 1000:.0f} ms; "
        f"{report['cpus']} CPUs; "
        "ideal = concurrency / 0.2 s; MB unless said; PSS/RSS summed over the worker's processes",
        "",
    ]
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    lines.append("")
    for variant, summary in report["summary"].items():
        stops = summary["stops_scaling_at"]
        cpu = summary["cpu_where_it_stops"]
        lines.append(
            f"{variant}: best {summary['best_actions_per_s']} actions/s at "
            f"{summary['best_at_concurrency']}; >= {TARGET_RATIO} of ideal up to "
            f"{summary['scales_to']}; "
            + (
                f"stops scaling at {stops} (worker {cpu['worker_pct']}% CPU, "
                f"machine {cpu['machine_pct']}%)"
                if stops
                else "did not stop scaling in the range measured"
            )
            + f"; {summary['pss_kb_per_extra_slot']} KB PSS per extra slot"
            + ("" if summary["all_exactly_once"] else f"; FAILED at {summary['failed_runs']}")
        )
    for run in report["runs"]:
        for error in run["errors"]:
            lines.append(f"  {run['variant']} c={run['concurrency']}: {error}")
    return "\n".join(lines)


def available(variant: str) -> bool:
    pool, _ = VARIANTS[variant]
    return pool != "gevent" or importlib.util.find_spec("gevent") is not None


def benchmark(
    variants: Sequence[str],
    concurrencies: Sequence[int],
    seconds: float,
    redis_url: str,
    broker: str = "redis",
) -> dict[str, Any]:
    """Every variant at every concurrency; the report as ``--json`` prints it.

    ``broker``: "redis" (the Redis db, as ``benchmarks.executor``) or "rabbitmq"
    (a vhost of the local RabbitMQ of its own, deleted at the end; results and
    throttle stay on Redis).
    """
    import benchmarks.executor as executor_bench
    from benchmarks.executor_worker import BENCH_KEYS
    from sandbox.core import Fault
    from sandbox.widgets import FakeWidgets

    tmp = Path(tempfile.mkdtemp(prefix="pb-bench-pools-"))
    bench = executor_bench.Bench(tmp, redis_url=redis_url)
    vhost = None
    if broker == "rabbitmq":
        from tests.e2e.conftest import RabbitMQVhost

        vhost = RabbitMQVhost()
        vhost.create()
        bench.settings = bench.settings.model_copy(update={"broker_url": vhost.url})
    fake = FakeWidgets(BENCH_KEYS)
    fake.inject(Fault(delay=VENDOR_DELAY), method="POST", path="/v1/widgets", times=None)
    server = fake.serve()
    runs: list[Run] = []
    skipped: list[str] = []
    runtime, executor = executor_bench.driver(bench)
    try:
        bench.connect(server.base_url)
        drive = Driver(bench, fake, runtime, executor)
        for variant in variants:
            if not available(variant):
                skipped.append(f"{variant}: gevent is not installed (pip install gevent)")
                continue
            for concurrency in concurrencies:
                run = drive.run(variant, concurrency, seconds, tmp)
                runs.append(run)
                print(
                    f"{variant} c={concurrency}: {run.actions_per_s} actions/s, "
                    f"ratio {run.ratio}, exactly once {run.exactly_once}",
                    file=sys.stderr,
                )
    finally:
        runtime.close()
        server.stop()
        bench.close()
        if vhost is not None:
            vhost.delete()
    return {
        "broker": broker,
        "vendor_delay_s": VENDOR_DELAY,
        "cpus": os.cpu_count(),
        "seconds_per_run": seconds,
        "runs": [r.to_json() for r in runs],
        "summary": summarize(runs),
        "skipped": skipped,
        "schema": bench.schema,
        "logs": str(tmp),
    }


def well_formed(report: dict[str, Any]) -> bool:
    """Whether every run has its figures and every step succeeded exactly once."""
    return bool(report["runs"]) and all(
        run["exactly_once"]
        and run["actions_per_s"] is not None
        and run["worker_cpu_pct"] is not None
        and run["pss_load_mb"] is not None
        for run in report["runs"]
    )


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["worker"]:
        run_worker(argv[1:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--pools",
        help=(
            f"comma-separated, of {', '.join(VARIANTS)} "
            f"(default: {','.join(DEFAULT_POOLS)}; --quick: threads)"
        ),
    )
    parser.add_argument(
        "--concurrency",
        help=(
            "comma-separated concurrencies "
            f"(default: {','.join(map(str, DEFAULT_CONCURRENCY))}; --quick: 2)"
        ),
    )
    parser.add_argument(
        "--seconds", type=float, default=8.0, help="busy seconds per run at the ideal rate"
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("PATCHBAY_BENCH_REDIS_URL", "redis://127.0.0.1:6379/12"),
        help="a Redis db of the benchmark's own: it is flushed (default: %(default)s)",
    )
    parser.add_argument(
        "--broker",
        choices=["redis", "rabbitmq"],
        default="redis",
        help="the broker: the Redis db, or a vhost of the local RabbitMQ (default: %(default)s)",
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: threads at 2, 2 s")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    pools = args.pools or ("threads" if args.quick else ",".join(DEFAULT_POOLS))
    variants = [v.strip() for v in pools.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown pool {', '.join(unknown)}; one of {', '.join(VARIANTS)}")
    levels = args.concurrency or ("2" if args.quick else ",".join(map(str, DEFAULT_CONCURRENCY)))
    concurrencies = [int(c) for c in levels.split(",") if c.strip()]
    if not concurrencies or min(concurrencies) < 1:
        parser.error("--concurrency: whole numbers of at least 1")
    seconds = min(args.seconds, 2.0) if args.quick else args.seconds
    report = benchmark(variants, concurrencies, seconds, args.redis_url, args.broker)
    print(json.dumps(report, indent=2) if args.json else format_table(report))
    return 0 if well_formed(report) else 1


if __name__ == "__main__":
    sys.exit(main())
