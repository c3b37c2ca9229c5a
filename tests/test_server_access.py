"""The throwaway server lets in this check and nobody else: TCP logins need its random password, and the unix
socket lies in a folder only the server's account can enter. Without that, any account on the machine could log
in as the superuser and run programs as the server's account (COPY ... TO PROGRAM)."""

from __future__ import annotations

import os
import pwd
import stat

import psycopg
import pytest

from migration_check.database import SERVER_USER, ThrowawayServer


def _attempts(server: ThrowawayServer) -> dict[str, str]:
    """Try to log in without the password, over TCP and through the socket: 'ok' or the error's first line."""
    assert server.folder is not None and server.port is not None
    outcome: dict[str, str] = {}
    for name, host in (("tcp", "127.0.0.1"), ("socket", str(server.folder))):
        try:
            with psycopg.connect(host=host, port=server.port, user=SERVER_USER, dbname="postgres",
                                 connect_timeout=5) as connection:
                connection.execute("SELECT 1")
            outcome[name] = "ok"
        except psycopg.Error as exc:
            outcome[name] = str(exc).strip().splitlines()[0]
    return outcome


def _as_account(account: pwd.struct_passwd, server: ThrowawayServer) -> dict[str, str]:
    """_attempts() in a child process that has become another local account."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop to the account, try, report, exit without running pytest's clean-up
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(account.pw_gid)
            os.setuid(account.pw_uid)
            os.environ.pop("PGPASSWORD", None)
            os.write(write, repr(_attempts(server)).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        answer = pipe.read()
    os.waitpid(pid, 0)
    return dict(eval(answer))  # our own repr of a dict of strings


def test_tcp_login_needs_the_password(server: ThrowawayServer) -> None:
    assert _attempts(server)["tcp"] != "ok"
    with server.connect() as connection:  # with the password
        assert connection.execute("SELECT current_user").fetchone() == (SERVER_USER,)


def test_the_socket_folder_is_private(server: ThrowawayServer) -> None:
    assert server.folder is not None
    mode = server.folder.stat().st_mode
    assert stat.S_IMODE(mode) == 0o700


@pytest.mark.skipif(os.geteuid() != 0, reason="acting as another local account needs root")
def test_another_local_account_is_refused(server: ThrowawayServer) -> None:
    server_uid = server.folder.stat().st_uid if server.folder else None
    others = [entry for entry in pwd.getpwall() if entry.pw_uid not in (0, server_uid) and entry.pw_uid < 65534]
    assert others, "no other local account to try with"
    outcome = _as_account(others[0], server)
    assert outcome["tcp"] != "ok" and "password" in outcome["tcp"], outcome
    assert outcome["socket"] != "ok" and "Permission denied" in outcome["socket"], outcome
