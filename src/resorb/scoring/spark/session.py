"""The Spark session: master URLs, Java and pyspark checks, one-line job errors."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sys
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from resorb.errors import InputError, ResorbError

#: Spark master URLs resorb accepts (Spark's own forms; mesos was removed in Spark 4)
_MASTER = re.compile(r"local|local\[(\*|\d+)(,\s*\d+)?\]|local-cluster\[\d+,\s*\d+,\s*\d+\]"
                     r"|spark://[^\s/]+(:\d+)?(,[^\s/]+(:\d+)?)*|yarn|k8s://\S+")
_MASTER_HELP = ("use local[*] (this machine), local[N], spark://HOST:PORT (a standalone "
                "cluster), yarn or k8s://https://HOST:PORT")


class SparkJobError(ResorbError):
    """A Spark job failed (the output has no ``_SUCCESS``)."""


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Hide pyspark's notice about pandas 3 (it checks the version at every call)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "PySpark does not yet fully support pandas",
                                FutureWarning)
        yield


# ----------------------------------------------------------------------------- the session


def check_master(master: str) -> str:
    """Refuse a master URL Spark cannot use, before starting a JVM.

    Raises
    ------
    InputError
        ``master`` is not one of Spark's master URL forms.
    """
    if not _MASTER.fullmatch(master.strip()):
        raise InputError(f"--spark-master {master!r} is not a Spark master URL; {_MASTER_HELP}")
    return master.strip()


def _java() -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").is_file():
        return str(Path(home) / "bin" / "java")
    return shutil.which("java")


def get_session(master: str = "local[*]", app: str = "resorb") -> tuple[Any, bool]:
    """The active Spark session, or a new one at ``master``; and whether this call started it.

    Parameters
    ----------
    master : str
        Spark master URL (ignored when a session is active: it is reused and left running).
    app : str
        Application name shown by the cluster.

    Raises
    ------
    InputError
        pyspark or Java is absent, the master URL is malformed, or Spark cannot start.
    """
    try:
        with quiet():
            from pyspark.sql import SparkSession
    except ImportError:
        raise InputError("--engine spark needs pyspark: pip install 'resorb[spark]' "
                         "(and Java 17 or later)") from None
    master = check_master(master)  # even when a session is active: a typo is an error
    with quiet():
        active = SparkSession.getActiveSession()
    if active is not None:
        return active, False
    if _java() is None:
        raise InputError("--engine spark needs Java 17 or later, and none was found (no "
                         "`java` on PATH, JAVA_HOME unset or without bin/java); install a "
                         "JDK (e.g. apt install openjdk-17-jre-headless) or set JAVA_HOME")
    # executors must run an interpreter that has resorb and its pinned dependencies
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    try:
        with quiet(), _driver_log(), _jvm_stderr():
            session = (SparkSession.builder.master(master).appName(app)
                       .config("spark.ui.enabled", "false")
                       .config("spark.ui.showConsoleProgress", "false")
                       .config("spark.sql.execution.arrow.pyspark.enabled", "true")
                       .config("spark.sql.session.timeZone", "UTC")
                       .getOrCreate())
    except Exception as exc:  # the JVM's reason, in one line
        raise InputError(f"Spark did not start at --spark-master {master!r}: "
                         f"{_first_line(exc)}; {_MASTER_HELP}") from None
    # Spark's log quotes malformed records (cells may be identifiers): resorb reports failures
    session.sparkContext.setLogLevel("OFF")
    return session, True


@contextlib.contextmanager
def _driver_log() -> Iterator[None]:
    """The JVM started in this block logs errors only (the packaged log4j2.properties).

    Spark's start-up WARN lines (native Hadoop library, loopback address, its default log4j
    profile) would come before resorb's progress bar. Log4j 2 reads its configuration file
    from ``LOG4J_CONFIGURATION_FILE``; set for the launch only, and only when unset, so a
    user's or cluster's configuration wins.
    """
    name = "LOG4J_CONFIGURATION_FILE"
    if name in os.environ:
        yield
        return
    os.environ[name] = str(Path(__file__).with_name("log4j2.properties"))
    try:
        yield
    finally:
        os.environ.pop(name, None)


#: what the JVM itself prints at start-up, outside any log (Spark's launcher adds
#: ``--add-modules=jdk.incubator.vector``, and the JDK always warns about incubator modules)
_JVM_NOTICES = (b"WARNING: Using incubator modules",)


@contextlib.contextmanager
def _jvm_stderr() -> Iterator[None]:
    """The JVM started in this block writes its stderr through a filter.

    Its start-up notice about incubator modules (:data:`_JVM_NOTICES`) is dropped; every
    other line, an error included, is passed on to this process's stderr as written. The
    JVM inherits the file descriptor, so the filter is a pipe and a daemon thread.
    """
    try:
        sys.stderr.flush()
        real = os.dup(2)
    except (OSError, ValueError):  # no usable stderr: nothing to keep clean
        yield
        return
    read, write = os.pipe()
    relay = threading.Thread(target=_relay, args=(read, real), daemon=True,
                             name="resorb-jvm-stderr")
    relay.start()
    os.dup2(write, 2)
    os.close(write)
    try:
        yield
    except BaseException:
        sys.stderr.flush()
        os.dup2(real, 2)
        relay.join(timeout=5)  # the JVM has exited: its last words (why it did not start)
        raise
    sys.stderr.flush()
    os.dup2(real, 2)


def _relay(read: int, out: int) -> None:
    """Copy lines from ``read`` to ``out`` until the writers close it, notices left out."""
    with os.fdopen(read, "rb") as source:
        for line in source:
            if not line.startswith(_JVM_NOTICES):
                os.write(out, line)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("Traceback", "File ", "at ", "JVM stacktrace")):
            return line[:300]
    return type(exc).__name__



def _job_reason(exc: BaseException) -> str:
    """The root cause of a failed job in one line, never quoting a cell of the input."""
    text = str(exc)
    where = re.search(r"while reading file (\S+?)\.?\s", text)
    if "MALFORMED" in text:  # Spark quotes the record: say what is wrong instead
        return (f"{'file ' + where.group(1) + ': ' if where else ''}a row does not have as "
                f"many cells as the header has columns; is a separator missing or one too "
                f"many?")
    found = re.findall(r"^\s*(?:Caused by: )?(?:[\w.]+\.)?(\w+(?:Error|Exception)): (.+)$",
                       text, re.M)
    if found:
        name, message = found[-1]
        return f"{name}: {message.strip()[:300]}"
    return _first_line(exc)

