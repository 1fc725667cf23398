"""A throwaway PostgreSQL server for the sweep tests (the ``postgres_server`` fixture).

``initdb`` refuses to run as root, so as root the cluster belongs to the unprivileged user
``nobody`` (``runuser -u nobody --``). The server listens on 127.0.0.1 and a free port, with
trust authentication and its socket in its own temporary directory; every test gets a fresh
database (``new_database``).
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

USER = "tfsnn"  # the cluster's superuser (trust authentication: no password)


def find_bindir() -> Path | None:
    """The directory with PostgreSQL's server binaries (initdb, pg_ctl): ``$TFSNN_PG_BIN``,
    Debian's ``/usr/lib/postgresql/<version>/bin`` (newest first), or the PATH."""
    candidates = [os.environ.get("TFSNN_PG_BIN", "")]
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                         key=lambda p: int(p.split("/")[-2]) if p.split("/")[-2].isdigit() else 0,
                         reverse=True)
    if shutil.which("initdb"):
        candidates.append(str(Path(shutil.which("initdb")).parent))
    for c in candidates:
        if c and (Path(c) / "initdb").is_file() and (Path(c) / "pg_ctl").is_file():
            return Path(c)
    return None


def why_unavailable() -> str | None:
    """None when a server can be started here, else the reason (for ``pytest.skip``)."""
    if find_bindir() is None:
        return ("PostgreSQL server binaries (initdb, pg_ctl) not found in $TFSNN_PG_BIN, "
                "/usr/lib/postgresql/*/bin or the PATH (Debian: apt-get install postgresql-15)")
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        return "psycopg2 is not installed (pip install -e '.[test]')"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root, and runuser (to run initdb as 'nobody') is not available"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """Start with :meth:`start`, stop (and delete everything) with :meth:`stop`."""

    def __init__(self):
        self.bindir = find_bindir()
        self.root = Path(tempfile.mkdtemp(prefix="tfsnn-pg-"))
        self.data = self.root / "data"
        self.port = None
        self._prefix: list[str] = []
        if os.geteuid() == 0:  # initdb refuses root: the cluster belongs to nobody
            nobody = pwd.getpwnam("nobody")
            os.chown(self.root, nobody.pw_uid, nobody.pw_gid)
            self._prefix = [shutil.which("runuser"), "-u", "nobody", "--"]
        self._names = itertools.count()

    def _run(self, *args: str, timeout: float = 120) -> None:
        cmd = [*self._prefix, str(self.bindir / args[0]), *args[1:]]
        proc = subprocess.run(cmd, cwd=self.root, capture_output=True, text=True,
                              timeout=timeout)
        if proc.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}"
                               f"{proc.stderr}\n{tail}")

    def start(self) -> PostgresServer:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", USER, "-E", "UTF8",
                  "--no-sync")
        for attempt in range(3):  # another process may take the free port first
            self.port = _free_port()
            options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} "
                       "-c max_connections=200")
            try:
                self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"),
                          "-o", options, "-w", "-t", "60", "start")
                return self
            except RuntimeError:
                if attempt == 2:
                    raise
        return self

    def url(self, database: str) -> str:
        return f"postgresql+psycopg2://{USER}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database; its SQLAlchemy URL."""
        import psycopg2

        name = f"sweep_{next(self._names)}"
        con = psycopg2.connect(host="127.0.0.1", port=self.port, user=USER, dbname="postgres")
        try:
            con.autocommit = True
            with con.cursor() as cur:
                cur.execute(f"CREATE DATABASE {name}")
        finally:
            con.close()
        return self.url(name)

    def stop(self) -> None:
        try:
            if self.port is not None and (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
