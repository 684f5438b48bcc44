"""CLI start-up and an embedded ``patchbay run``, against ``python -c pass`` in the same run.

Measures, N times each and interleaved (so that a busy machine slows every
case alike), the wall time of:

- ``python -c pass``: the interpreter alone, the floor;
- ``patchbay --help``: target under 0.3 s;
- ``patchbay run`` of a fast action on the embedded default (SQLite in a
  fresh data directory, in-process worker on ``memory://``): target under 1 s;
- the same ``run`` with invalid input (a validation error, exit 2).

Reported: the median of each, its ratio to ``python -c pass``, and the
medians of the two targets against them. Run: ``./dev bench cli [-n N]``
(``--json`` for programs).

Python's bytecode cache is on, as for an installed patchbay (pip compiles it
at install), and one unmeasured round warms it: this machine's environment
sets ``PYTHONDONTWRITEBYTECODE=1``, under which every command compiles
patchbay's own sources again (about 0.15-0.2 s of a ``run``);
``--no-bytecode-cache`` measures that way instead.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGETS = {"patchbay --help": 0.3, "patchbay run": 1.0}
PATCHBAY = [sys.executable, "-m", "patchbay"]


def timed(argv: list[str], env: dict[str, str], expect: int) -> float:
    """Wall seconds of one run of ``argv``; it must exit ``expect``."""
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != expect:
        raise SystemExit(
            f"{' '.join(argv[2:])} exited {done.returncode}, not {expect}: {done.stderr.strip()}"
        )
    return elapsed


def prepare(env: dict[str, str]) -> list[str]:
    """A tenant with a technician in a fresh embedded data directory; the run's arguments."""
    subprocess.run(
        [*PATCHBAY, "tenant", "create", "bench"],
        env=env,
        check=True,
        text=True,
        capture_output=True,
    )
    user = subprocess.run(
        [*PATCHBAY, "user", "add", "tech", "--tenant", "bench", "--technician"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    entry = {
        "assigned_user_ids": [user],
        "title": "benchmark",
        "window": {"start": "2030-01-01T09:00:00Z", "end": "2030-01-01T09:30:00Z"},
        "conflict_mode": "override",
    }
    return ["run", "scheduling.create_entry", "--tenant", "bench", "--input", json.dumps(entry)]


def measure(repeat: int, *, bytecode_cache: bool = True) -> dict[str, list[float]]:
    """Seconds per case, ``repeat`` runs each, interleaved, after one unmeasured round."""
    with tempfile.TemporaryDirectory(prefix="patchbay-bench-cli-") as tmp:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("PATCHBAY_") and not key.startswith("TENANT_")
        }
        env["PATCHBAY_DATA_DIR"] = str(Path(tmp) / "data")
        if bytecode_cache:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
        else:
            env["PYTHONDONTWRITEBYTECODE"] = "1"
        run_args = prepare(env)
        invalid = [*run_args[:-1], "{}"]
        cases = {
            "python -c pass": ([sys.executable, "-c", "pass"], 0),
            "patchbay --help": ([*PATCHBAY, "--help"], 0),
            "patchbay run": ([*PATCHBAY, *run_args], 0),
            "run, validation error": ([*PATCHBAY, *invalid], 2),
        }
        for argv, expect in cases.values():
            timed(argv, env, expect)  # warm-up: caches filled, pages in memory
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(repeat):
            for name, (argv, expect) in cases.items():
                times[name].append(timed(argv, env, expect))
        return times


def report(times: dict[str, list[float]]) -> dict[str, dict[str, float | bool | None]]:
    """Median, ratio to ``python -c pass`` and, for the targets, whether it is met."""
    floor = statistics.median(times["python -c pass"])
    result: dict[str, dict[str, float | bool | None]] = {}
    for name, samples in times.items():
        median = statistics.median(samples)
        target = TARGETS.get(name)
        result[name] = {
            "median_s": round(median, 3),
            "ratio_to_python": round(median / floor, 1),
            "target_s": target,
            "met": None if target is None else median < target,
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("-n", "--repeat", type=int, default=7, help="runs of each case")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help="run with PYTHONDONTWRITEBYTECODE=1 (every command compiles patchbay's sources)",
    )
    args = parser.parse_args()
    result = report(measure(args.repeat, bytecode_cache=not args.no_bytecode_cache))
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{'case':24} {'median':>8} {'x python':>9} {'target':>8}")
    for name, row in result.items():
        target = "" if row["target_s"] is None else f"< {row['target_s']} s"
        verdict = {True: " ok", False: " MISSED", None: ""}[row["met"]]  # type: ignore[index]
        print(
            f"{name:24} {row['median_s']:>7.3f}s {row['ratio_to_python']:>8.1f}x "
            f"{target:>8}{verdict}"
        )


if __name__ == "__main__":
    main()
