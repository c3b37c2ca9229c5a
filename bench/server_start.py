"""How long the throwaway PostgreSQL takes to be ready, and to stop and clean up.

    python bench/server_start.py [--runs 20] [--disk]

--disk puts the server's folder on the default temporary folder instead of /dev/shm.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from migration_check.database import TMPDIR_ENV, ThrowawayServer, find_server_binaries, scratch_parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--disk", action="store_true", help="use the default temporary folder, not /dev/shm")
    args = parser.parse_args()
    if args.disk:
        os.environ[TMPDIR_ENV] = "/tmp"
    binaries = find_server_binaries(None)
    starts, stops = [], []
    for _ in range(args.runs):
        server = ThrowawayServer(binaries)
        began = time.perf_counter()
        server.start()
        ready = time.perf_counter()
        server.close()
        starts.append(ready - began)
        stops.append(time.perf_counter() - ready)
    print(f"PostgreSQL {binaries.version} from {binaries.source}, folder in {scratch_parent() or '/tmp'}, "
          f"{args.runs} runs, as uid {os.geteuid()}")
    for name, values in (("ready", starts), ("stop+cleanup", stops)):
        ordered = sorted(values)
        p90 = ordered[max(0, round(0.9 * len(ordered)) - 1)]
        print(f"  {name:<13} median {statistics.median(values):.3f} s  min {ordered[0]:.3f} s  "
              f"p90 {p90:.3f} s  max {ordered[-1]:.3f} s")


if __name__ == "__main__":
    main()
