"""A real PostgreSQL server on 127.0.0.1 for the postgres compute plugin's tests.

`initdb` into a private folder, `pg_ctl start` on a free port, trust auth on loopback
only; stopped at the end of the session. PostgreSQL refuses to run as root, so as root
the server runs as the `postgres` user that Debian's package creates (make test installs
it). A missing binary fails the suite: no silent skip.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PG_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


@dataclass(frozen=True)
class Postgres:
    host: str
    port: int
    user: str
    dbname: str

    def connect(self) -> object:
        import psycopg2

        return psycopg2.connect(host=self.host, port=self.port, user=self.user, dbname=self.dbname)

    def execute(self, *statements: str) -> list[tuple[object, ...]]:
        """Run statements as the superuser; the rows of the last one."""
        connection = self.connect()
        rows: list[tuple[object, ...]] = []
        try:
            with connection, connection.cursor() as cursor:  # type: ignore[attr-defined]
                for statement in statements:
                    cursor.execute(statement)
                    rows = cursor.fetchall() if cursor.description else []
        finally:
            connection.close()  # type: ignore[attr-defined]
        return rows


def _binary(name: str) -> str:
    for folder in PG_BIN_DIRS:
        if (folder / name).is_file():
            return str(folder / name)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} not found: install Debian's postgresql (make test does)")
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_server_user(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    root = Path(tempfile.mkdtemp(prefix="floe-pg-"))
    data, sockets = root / "data", root / "sock"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
    port = _free_port()
    initdb = [_binary("initdb"), "-D", str(data), "-U", "floe", "--auth=trust", "-E", "UTF8"]
    subprocess.run(_as_server_user(initdb), check=True, capture_output=True, timeout=120)
    options = f"-p {port} -c listen_addresses=127.0.0.1 -k {sockets} -c fsync=off"
    start = [_binary("pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "log"), "-w"]
    subprocess.run(_as_server_user([*start, "start"]), check=True, capture_output=True, timeout=120)
    try:
        yield Postgres("127.0.0.1", port, "floe", "postgres")
    finally:
        stop = [_binary("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]
        subprocess.run(_as_server_user(stop), capture_output=True, timeout=120)
        shutil.rmtree(root, ignore_errors=True)
