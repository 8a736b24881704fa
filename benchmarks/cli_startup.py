"""CLI startup: wall time of ``thread --help`` and ``thread parts`` against ``python -c pass``.

Each figure is the wall time of a fresh process, from spawn to exit, as a user
at a terminal waits for it: the interpreter's start, the imports, the work and
the output (to a pipe). ``thread parts`` runs on a demo ledger the script fills
first (``thread demo``, 300 bearings by default, in a temporary folder).

The three commands alternate within each round, so that a slower moment of the
machine weighs on all of them alike; after one unmeasured warm-up run each,
the median of the rounds is reported, beside each command's time over the bare
interpreter (``python -c pass``, measured in the same run).

Run ``python benchmarks/cli_startup.py --help`` for the options; the last line
printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_ROUNDS = 5
DEFAULT_BEARINGS = 300
#: Seconds, median of the rounds (printed beside the figures, not asserted).
TARGETS = {"help": 0.25, "parts": 0.4}


def thread_command() -> list[str]:
    """The ``thread`` console script beside this interpreter, else the same entry point."""
    script = Path(sys.executable).with_name("thread")
    if script.is_file():
        return [str(script)]
    found = shutil.which("thread")
    if found:
        return [found]
    return [sys.executable, "-c", "from thread.cli import main; main()"]


def wall(command: list[str], env: dict[str, str]) -> float:
    """Seconds from spawning ``command`` to its exit; a failure stops the benchmark."""
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, env=env, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited {result.returncode}: "
                         f"{result.stderr.decode(errors='replace').strip()}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS,
                        help=f"measured runs of each command [default {DEFAULT_ROUNDS}]")
    parser.add_argument("--bearings", type=int, default=DEFAULT_BEARINGS,
                        help=f"bearings in the demo ledger [default {DEFAULT_BEARINGS}]")
    args = parser.parse_args(argv)
    env = {k: v for k, v in os.environ.items() if not k.startswith("THREAD_")}
    thread = thread_command()
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp:
        db = str(Path(tmp) / "demo.db")
        subprocess.run([*thread, "--db", db, "demo", "--bearings", str(args.bearings)],
                       capture_output=True, env=env, check=True)
        commands = {
            "python": [sys.executable, "-c", "pass"],
            "help": [*thread, "--help"],
            "parts": [*thread, "--db", db, "parts"],
        }
        parts = subprocess.run(commands["parts"], capture_output=True, text=True, env=env,
                               check=True).stdout.strip().splitlines()[-1]
        print(f"cli_startup: {' '.join(thread)}; demo ledger of {args.bearings} bearings "
              f"({parts}); {args.rounds} rounds; python {sys.version.split()[0]}, "
              f"{os.cpu_count()} cpus", flush=True)
        for command in commands.values():
            wall(command, env)
        runs: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.rounds):
            for name, command in commands.items():
                runs[name].append(wall(command, env))
    median = {name: statistics.median(times) for name, times in runs.items()}
    print()
    print(f"{'command':22} {'median s':>9} {'over python':>12} {'target s':>9} {'':6}  runs")
    labels = {"python": "python -c pass", "help": "thread --help", "parts": "thread parts"}
    for name, times in runs.items():
        target = TARGETS.get(name)
        verdict = "" if target is None else ("met" if median[name] <= target else "MISSED")
        print(f"{labels[name]:22} {median[name]:>9.3f} {median[name] - median['python']:>12.3f} "
              f"{target if target is not None else '':>9} {verdict:6}  "
              f"{' '.join(f'{t:.3f}' for t in times)}")
    print(json.dumps({
        "benchmark": "cli_startup",
        "python_pass_s": round(median["python"], 4),
        "help_s": round(median["help"], 4),
        "parts_s": round(median["parts"], 4),
        "runs": {name: [round(t, 4) for t in times] for name, times in runs.items()},
        "rounds": args.rounds, "bearings": args.bearings, "command": thread,
        "targets": {f"{name}_s": target for name, target in TARGETS.items()},
        "met": {name: median[name] <= target for name, target in TARGETS.items()},
    }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
