"""Run a benchmark script's counted part under valgrind's callgrind: a load-proof count.

The script starts itself again with ``--inside`` under callgrind with instrumentation
off; its inside part turns counting on (``callgrind_control``) around the work it
measures and prints ``counted N`` (the units it counted: events, requests).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path


def instructions_per_unit(script: str, src: Path, args: list[str]) -> tuple[float, int]:
    """(instructions per counted unit, units) of ``script --inside *args`` run with
    ``src`` on the path and a fixed hash seed; exits with callgrind's output on failure."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "PYTHONPATH": str(src.resolve()), "PYTHONHASHSEED": "0"}
        done = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                "--instr-atstart=no",
                f"--callgrind-out-file={tmp}/callgrind.out",
                sys.executable,
                script,
                "--inside",
                *args,
            ],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    collected = re.search(r"Collected : (\d+)", done.stderr)
    counted = re.search(r"counted (\d+)", done.stdout)
    if done.returncode != 0 or collected is None or counted is None:
        sys.exit(f"callgrind run failed:\n{done.stderr[-2000:]}")
    units = int(counted.group(1))
    return int(collected.group(1)) / units, units
