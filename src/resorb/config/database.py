"""Whether a tracking database answers, asked before MLflow is given its URI.

MLflow's SQLAlchemy store retries a database that refuses or does not answer for minutes
before it raises, with a traceback: ``postgresql+psycopg2://...`` on a closed port took
112 s and ended in exit 1 (``sqlalchemy.exc.OperationalError``). One TCP connection with a
short timeout to the URI's host and port (the scheme's default port when none is written)
tells in milliseconds, or at most :data:`DATABASE_TIMEOUT` seconds, whether anything
listens there; :func:`unreachable_database` says why not, and ``resorb`` turns that into a
one-line error (exit 2) as it does for an HTTP server that cannot be reached
(:func:`resorb.cli.options.open_store`). Nothing is sent over the connection: whether the
database accepts the credentials is left to the driver, which answers at once.

A PostgreSQL URI over a Unix socket (``?host=/run/postgresql``) is probed at the socket
file libpq uses (``<dir>/.s.PGSQL.<port>``), a MySQL one at its ``unix_socket`` file; a URI
naming no host (the driver's compiled-in default socket), several hosts, or an ODBC
connection string is not probed.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path

#: TCP port each database scheme's server listens on when the URI names none
DEFAULT_PORTS: dict[str, int] = {"postgresql": 5432, "mysql": 3306, "mssql": 1433}
#: seconds a tracking database gets to accept a TCP connection
DATABASE_TIMEOUT = 5.0


def masked_uri(uri: str) -> str:
    """``uri`` with its user and password replaced by ``***``, for messages and logs."""
    return re.sub(r"//[^/@]*@", "//***@", uri)


def database_address(uri: str) -> tuple[str, int] | str | None:
    """Where a database tracking URI's server listens.

    Parameters
    ----------
    uri : str
        A SQLAlchemy URI, ``postgresql[+driver]://``, ``mysql[+driver]://`` or
        ``mssql[+driver]://``.

    Returns
    -------
    (host, port), str or None
        The TCP address; the path of a Unix socket; None for another scheme or a URI that
        names no single address (see the module's docstring).
    """
    scheme = uri.split("://", 1)[0].split("+", 1)[0].lower() if "://" in uri else ""
    if scheme not in DEFAULT_PORTS:
        return None
    from sqlalchemy.engine import make_url  # only for a database URI: 0.2 s to import

    try:
        url = make_url(uri)
    except Exception:  # several hosts ('h1:1,h2:2'), or text SQLAlchemy cannot parse
        return None
    query = {k: v if isinstance(v, str) else v[-1] for k, v in url.query.items()}
    host = url.host or query.get("host")
    port_text = str(url.port) if url.port is not None else query.get("port")
    if scheme == "mysql" and not url.host and query.get("unix_socket"):
        return query["unix_socket"]
    if not host or "," in host or (port_text is not None and not port_text.isdigit()):
        return None
    port = int(port_text) if port_text is not None else DEFAULT_PORTS[scheme]
    if host.startswith("/"):
        return str(Path(host) / f".s.PGSQL.{port}") if scheme == "postgresql" else None
    if scheme == "mssql" and "\\" in host:  # a named instance: its port comes from a browser
        return None
    return host, port


def unreachable_database(uri: str, timeout: float = DATABASE_TIMEOUT) -> str | None:
    """Why nothing accepts a connection at a database tracking URI's address, or None.

    Parameters
    ----------
    uri : str
        The tracking URI (any scheme: only database URIs are probed).
    timeout : float
        Seconds to wait for the connection to be accepted.

    Returns
    -------
    str or None
        None when the address accepts a connection (or is not probed, see
        :func:`database_address`), else e.g. ``"127.0.0.1:5432 refused the connection"``,
        ``"db.example.org:5432 did not answer within 5 s"``, ``"host 'db.example.org' not
        found"`` or ``"socket /run/postgresql/.s.PGSQL.5432 does not exist"``.
    """
    address = database_address(uri)
    if address is None:
        return None
    if isinstance(address, str):
        return _unreachable_socket(address, timeout)
    host, port = address
    where = f"{host}:{port}"
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except socket.gaierror:
        return f"host '{host}' not found"
    except ConnectionRefusedError:
        return f"{where} refused the connection"
    except TimeoutError:
        return f"{where} did not answer within {timeout:g} s"
    except OSError as exc:
        return f"{where}: {exc.strerror or exc}"


def _unreachable_socket(path: str, timeout: float) -> str | None:
    """:func:`unreachable_database` for a Unix socket file."""
    if not Path(path).exists():
        return f"socket {path} does not exist"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(path)
        except ConnectionRefusedError:
            return f"socket {path} refused the connection"
        except TimeoutError:
            return f"socket {path} did not answer within {timeout:g} s"
        except OSError as exc:
            return f"socket {path}: {exc.strerror or exc}"
    return None
