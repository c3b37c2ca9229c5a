"""What an audit costs as the list of databases grows, and what the pool of concurrent readers buys.

    python bench/audit.py [--databases 1 10 50] [--concurrency 1 4 8] [--runs 3] [--latency-ms 0]

A second throwaway server stands for the live fleet: the clean example's migrations bring one database to head
and one to 0002 (with a hand-made index); every other database is a copy of one of those two (CREATE DATABASE
... TEMPLATE), alternately. Each run is `migration-check audit` in a process of its own, timed whole, with its
peak memory (the child's maximum RSS). --latency-ms adds a delay to each new connection through a local TCP
relay, as a database across a network would have.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from migration_check.database import ThrowawayServer, find_server_binaries

REPO = Path(__file__).resolve().parent.parent
UPGRADE = """
import sys
from alembic import command
from alembic.config import Config
config = Config("alembic.ini")
config.set_main_option("sqlalchemy.url", sys.argv[1].replace("%", "%%"))
command.upgrade(config, sys.argv[2])
"""


def _relay(target_port: int, delay: float) -> int:
    """A TCP relay on a free port that waits `delay` before connecting each client to the server."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)

    def pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for end in (a, b):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def serve() -> None:
        while True:
            client, _ = listener.accept()
            time.sleep(delay)
            upstream = socket.create_connection(("127.0.0.1", target_port))
            threading.Thread(target=pipe, args=(client, upstream), daemon=True).start()
            threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    return listener.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--databases", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args()
    project = REPO / "examples/clean"
    server = ThrowawayServer(find_server_binaries(None))
    server.start()
    try:
        with server.connect("postgres") as connection:
            for name in ("seed_head", "seed_old"):
                connection.execute(f"CREATE DATABASE {name}")
        for name, revision in (("seed_head", "head"), ("seed_old", "0002")):
            subprocess.run([sys.executable, "-c", UPGRADE, server.url(name, "psycopg"), revision], cwd=project,
                           check=True, capture_output=True)
        with server.connect("seed_old") as connection:
            connection.execute("CREATE INDEX ix_agents_name ON agents (name)")
        port = _relay(server.port, args.latency_ms / 1000) if args.latency_ms else server.port
        most = max(args.databases)
        with server.connect("postgres") as connection:
            for number in range(most):
                seed = "seed_head" if number % 2 == 0 else "seed_old"
                connection.execute(f"CREATE DATABASE tenant_{number} TEMPLATE {seed}")
        print(f"# audit cost, {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
              f"Python {platform.python_version()}, PostgreSQL {server.binaries.version}, "
              f"connection latency {args.latency_ms:.0f} ms, median of {args.runs} runs\n")
        print("| databases | concurrency | wall (s) | spread (s) | per database (s) | peak RSS (MB) |")
        print("|---|---|---|---|---|---|")
        with tempfile.TemporaryDirectory() as folder:
            for count in args.databases:
                listing = Path(folder) / f"databases-{count}.yml"
                url = server.url("x").rsplit("/", 1)[0].rsplit(":", 1)[0] + f":{port}"
                listing.write_text("".join(f"- name: tenant-{n}\n  url: {url}/tenant_{n}\n" for n in range(count)))
                for concurrency in args.concurrency:
                    if concurrency > count and concurrency != args.concurrency[0]:
                        continue
                    walls, peaks = [], []
                    for _ in range(args.runs):
                        began = time.perf_counter()
                        done = subprocess.run([sys.executable, "-c", "import resource, subprocess, sys; "
                                               "code = subprocess.run(sys.argv[1:]).returncode; "
                                               "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, "
                                               "file=sys.stderr); sys.exit(code)",
                                               sys.executable, "-m", "migration_check", "audit", str(project),
                                               "--quiet", "--databases", str(listing), "--concurrency",
                                               str(concurrency), "--format", "json"],
                                              capture_output=True, text=True)
                        walls.append(time.perf_counter() - began)
                        assert done.returncode in (0, 1), done.stderr  # 1: the old half has a hotfix
                        peaks.append(int(done.stderr.strip().splitlines()[-1]) / 1024)
                    wall = statistics.median(walls)
                    print(f"| {count} | {concurrency} | {wall:.2f} | {max(walls) - min(walls):.2f} | "
                          f"{wall / count:.3f} | {statistics.median(peaks):.0f} |", flush=True)
    finally:
        server.close()


if __name__ == "__main__":
    main()
