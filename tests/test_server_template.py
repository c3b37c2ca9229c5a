"""The throwaway server's data folder comes from a template that initdb made once (server_template): a second
server starts from a copy, with a password of its own; a broken template is forgotten, and `off` keeps none."""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg
import pytest

from migration_check import server_template
from migration_check.database import ThrowawayServer, find_server_binaries

pytestmark = pytest.mark.usefixtures("no_leftovers")


def _started(monkeypatch: pytest.MonkeyPatch, cache: str) -> ThrowawayServer:
    monkeypatch.setenv(server_template.CACHE_ENV, cache)
    server = ThrowawayServer(find_server_binaries(None))
    server.start()
    return server


def test_a_second_server_starts_from_the_template(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    first = _started(monkeypatch, str(tmp_path))
    try:
        assert not first.from_template
        [template] = (tmp_path / "server-templates").iterdir()
        assert (template / "PG_VERSION").is_file()
    finally:
        first.close()
    second = _started(monkeypatch, str(tmp_path))
    try:
        assert second.from_template and second.password != first.password
        with second.connect() as connection:
            assert connection.execute("SELECT 1").fetchone() == (1,)
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(host="127.0.0.1", port=second.port, user="postgres", password=first.password,
                            dbname="postgres")
    finally:
        second.close()


def test_a_broken_template_is_forgotten(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _started(monkeypatch, str(tmp_path)).close()
    [template] = (tmp_path / "server-templates").iterdir()
    shutil.rmtree(template / "global")  # what a half-deleted cache leaves
    server = _started(monkeypatch, str(tmp_path))
    try:
        assert not server.from_template
        with server.connect() as connection:
            assert connection.execute("SELECT 1").fetchone() == (1,)
    finally:
        server.close()


def test_off_keeps_no_template(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    server = _started(monkeypatch, "off")
    server.close()
    assert not server.from_template and list(tmp_path.iterdir()) == []
