"""How a hospital's CSV export is written: separator, decimal mark, encoding, codes, dates.

European spreadsheet software exports "CSV" as semicolon-separated text with decimal
commas, in Latin-1 (Windows-1252) or UTF-16, sometimes gzip-compressed. A :class:`Dialect`
says how to read such a file; it is declared in the mapping file::

    dialect:
      separator: ";"          # "," (default), ";", "tab", "|"
      decimal: ","            # "." (default) or ","
      encoding: latin-1       # any Python codec name; default utf-8
      missing: ["NA", "-99"]  # cells meaning "missing", besides the empty cell
      date_format: "%d.%m.%Y" # strftime codes of the export's dates; default ISO YYYY-MM-DD

Two things need no declaration because they cannot be mistaken: gzip compression (from the
``.gz`` suffix or the file's first bytes) and a byte-order mark (UTF-16 or UTF-8 BOM).

:func:`sniff` guesses a file's dialect from its first 64 KiB (:class:`csv.Sniffer` for the
separator, the BOM and a UTF-8 test for the encoding, number-shaped cells for the decimal
mark and day-first dates for the date format); :func:`advice` turns the guess into the
mapping keys to set, which :class:`~resorb.intake.TableFile` adds to its read errors and
``resorb validate`` prints under a failing report.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import re
import zlib
from pathlib import Path
from typing import Any

from pydantic import field_validator

from resorb.config import Frozen

SAMPLE_BYTES = 1 << 16
_SEPARATORS = {"tab": "\t", "\\t": "\t"}
_SHOWN = {"\t": "tab"}
# a number written with a decimal comma, optionally with dots between thousands: 1.234,5
DECIMAL_COMMA = r"^\s*[+-]?(?:\d{1,3}(?:\.\d{3})+|\d+),\d+\s*$"
_DAY_FIRST = re.compile(r"^\s*\d{1,2}([./-])\d{1,2}\1\d{4}\s*$")
GZIP_MAGIC = b"\x1f\x8b"


class Dialect(Frozen):
    """How a CSV file is written (the mapping file's ``dialect`` section).

    Attributes
    ----------
    separator : str
        One character between cells (``"tab"`` is accepted for a tab).
    decimal : {".", ","}
        Decimal mark of numbers; with ``","``, a cell that is wholly a number such as
        ``4,5`` or ``1.234,5`` is read as ``4.5`` or ``1234.5`` (text cells are left alone).
    encoding : str
        Text encoding (a Python codec name such as ``latin-1``, ``cp1252``, ``utf-16``).
    missing : tuple of str
        Cells that mean "missing" besides the empty cell (e.g. ``NA``, ``-99``).
    date_format : str or None
        ``strftime`` codes of the dates (e.g. ``%d.%m.%Y``); cells in this format are read
        as ISO dates. None: ISO dates (YYYY-MM-DD).
    """

    separator: str = ","
    decimal: str = "."
    encoding: str = "utf-8"
    missing: tuple[str, ...] = ()
    date_format: str | None = None

    @field_validator("separator", mode="before")
    @classmethod
    def _one_character(cls, v: Any) -> Any:
        v = _SEPARATORS.get(v, v) if isinstance(v, str) else v
        if not isinstance(v, str) or len(v) != 1 or v in "\r\n\"":
            raise ValueError(f"must be one character such as ',', ';', '|' or 'tab'; got {v!r}")
        return v

    @field_validator("decimal")
    @classmethod
    def _mark(cls, v: str) -> str:
        if v not in (".", ","):
            raise ValueError(f"must be '.' or ','; got {v!r}")
        return v

    @field_validator("encoding")
    @classmethod
    def _codec(cls, v: str) -> str:
        try:
            codecs.lookup(v)
            return v
        except LookupError:
            raise ValueError(f"'{v}' is not a known text encoding; use e.g. utf-8, latin-1, "
                             "cp1252 or utf-16") from None

    @field_validator("missing", mode="before")
    @classmethod
    def _codes(cls, v: Any) -> Any:
        if isinstance(v, str | int | float) and not isinstance(v, bool):
            v = [v]
        if isinstance(v, list | tuple):
            return tuple(str(c) for c in v)
        return v

    @field_validator("date_format")
    @classmethod
    def _date_codes(cls, v: str | None) -> str | None:
        if v is not None and not {"%d", "%m"} <= set(re.findall(r"%[a-zA-Z]", v)) | (
                {"%m"} if "%b" in v or "%B" in v else set()):
            raise ValueError(f"'{v}' needs at least a day (%d) and a month (%m or %b); "
                             "e.g. '%d.%m.%Y'")
        return v

    @property
    def is_default(self) -> bool:
        """Plain UTF-8, comma-separated, decimal point, ISO dates, no codes."""
        return self == Dialect()

    def keys(self, base: Dialect | None = None) -> dict[str, Any]:
        """The mapping-file keys where this dialect differs from ``base`` (default: the default)."""
        base = base or Dialect()
        out: dict[str, Any] = {}
        for name in ("separator", "decimal", "encoding", "date_format"):
            if name == "encoding" and codec(self.encoding) == codec(base.encoding):
                continue
            if getattr(self, name) != getattr(base, name):
                value = getattr(self, name)
                out[name] = _SHOWN.get(value, value)
        return out


def codec(name: str) -> str:
    """The canonical name of a text encoding (``UTF8`` and ``utf-8`` are ``utf-8``)."""
    return codecs.lookup(name).name


def open_bytes(path: Path) -> Any:
    """A binary file object over ``path``, decompressed when it is gzip."""
    return gzip.open(path, "rb") if is_gzip(path) else path.open("rb")


def is_gzip(path: Path) -> bool:
    """Whether ``path`` is gzip-compressed (its suffix, or its first two bytes)."""
    if path.suffix.lower() == ".gz":
        return True
    with path.open("rb") as fh:
        return fh.read(2) == GZIP_MAGIC


def bom_encoding(head: bytes) -> str | None:
    """The encoding a byte-order mark declares (``utf-16`` or ``utf-8-sig``), else None."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    return None


def head_bytes(path: Path, n: int = SAMPLE_BYTES) -> bytes:
    """The first ``n`` bytes of the (decompressed) file; empty when they cannot be read."""
    try:
        with open_bytes(path) as fh:
            return fh.read(n)
    except (OSError, EOFError, zlib.error):
        return b""


def sniff(path: str | Path) -> Dialect:
    """Guess a CSV file's dialect from its first 64 KiB.

    Parameters
    ----------
    path : path-like
        A CSV file, possibly gzip-compressed.

    Returns
    -------
    Dialect
        The likely separator, decimal mark, encoding and date format (``missing`` is never
        guessed). The default dialect when nothing else fits.
    """
    head = head_bytes(Path(path))
    encoding = bom_encoding(head) or "utf-8"
    try:
        text = codecs.getincrementaldecoder(encoding)().decode(head, final=False)
    except UnicodeDecodeError:
        encoding = "latin-1"
        text = head.decode("latin-1")
    lines = [line for line in text.lstrip("\ufeff").splitlines() if line.strip()][:50]
    if len(lines) > 1:
        lines = lines[:-1]  # the last line of the sample may be cut
    if not lines:
        return Dialect(encoding=encoding)
    sample = "\n".join(lines)
    try:
        separator = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        counts = {s: lines[0].count(s) for s in ",;\t|"}
        separator = max(counts, key=counts.get) if max(counts.values()) else ","
    cells = [c for row in csv.reader(lines[1:], delimiter=separator) for c in row]
    decimal = ","
    if separator == "," or not any(re.match(DECIMAL_COMMA, c) for c in cells):
        decimal = "."
    date_format = None
    days = [m.group(1) for c in cells if (m := _DAY_FIRST.match(c))]
    if days:
        date_format = f"%d{days[0]}%m{days[0]}%Y"
    return Dialect(separator=separator, decimal=decimal, encoding=encoding,
                   date_format=date_format)


#: title lines above a header that :func:`title_above_header` recognises at most
MAX_TITLE_LINES = 5


def title_above_header(path: str | Path, used: Dialect | None) -> str:
    """What to do when a file's first lines are a title above its header.

    PACS and registry exports often start with a line such as ``Export from PACS
    2026-11-30`` (or ``Export;;;;`` from a spreadsheet): read as the header, it gave "row 1
    has 36 cells where the header has 1". Recognised when, for some separator, the first
    lines (at most :data:`MAX_TITLE_LINES`) hold at most one filled cell each, the next line
    at least two, and every later line in the first 64 KiB as many cells as that line;
    never when some separator reads the whole sample, first line included, as one table.

    Parameters
    ----------
    path : path-like
        A CSV file, possibly gzip-compressed.
    used : Dialect or None
        The dialect the file is read with (None: the default).

    Returns
    -------
    str
        E.g. ``"the first line holds a single cell and the next one 36 cells: it looks
        like a title above the header; delete it so that the file starts with the column
        names"`` (and the separator to declare when it is not ``used``'s); empty when the
        file does not look so. The title itself is never quoted (it may name a patient).
    """
    used = used or Dialect()
    head = head_bytes(Path(path))
    encoding = bom_encoding(head) or codec(used.encoding)
    text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(head, final=False)
    seps = list(dict.fromkeys([used.separator, *",;\t|"]))
    found: tuple[int, str, int] | None = None
    for sep in seps:
        rows = [r for r in csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=sep)
                if any(c.strip() for c in r)]
        if len(rows) > 2:
            rows = rows[:-1]  # the last line of the sample may be cut
        filled = [sum(1 for c in r if c.strip()) for r in rows]
        if len(rows) < 2 or filled[0] >= 2:
            if len(rows) >= 2 and all(len(r) == len(rows[0]) for r in rows):
                return ""  # one table from its first line: no title
            continue
        k = next((i for i, f in enumerate(filled) if f >= 2), None)
        if k is None or k > MAX_TITLE_LINES:
            continue
        width = len(rows[k])
        if all(len(r) == width for r in rows[k + 1:]) and (found is None or width > found[2]):
            found = (k, sep, width)
    if found is None:
        return ""
    k, sep, width = found
    lines = "line holds" if k == 1 else f"{k} lines hold"
    each, it, looks = ("", "it", "it looks") if k == 1 else (" each", "them", "they look")
    out = (f"the first {lines} a single cell{each} and the next one {width} cells: {looks} "
           f"like a title above the header; delete {it} so that the file starts with the "
           "column names")
    if sep != used.separator:
        out += (f", and declare the separator in the mapping file (--mapping) as dialect: "
                f"{{separator: {_SHOWN.get(sep, sep)!r}}}")
    return out


def advice(path: str | Path, used: Dialect | None) -> str:
    """What to declare in the mapping file when ``path`` looks written in another dialect.

    Parameters
    ----------
    path : path-like
    used : Dialect or None
        The dialect the file was read with (None: the default).

    Returns
    -------
    str
        E.g. ``"it looks like a ';'-separated export with decimal commas in latin-1: declare
        it in the mapping file (--mapping): dialect: {separator: ';', decimal: ',',
        encoding: latin-1}"``; empty when the guess matches ``used``. A byte-order mark is
        read without declaration, so it is never advised.
    """
    used = used or Dialect()
    guess = sniff(path)
    if bom_encoding(head_bytes(Path(path), 4)) is not None:
        guess = guess.model_copy(update={"encoding": used.encoding})
    keys = guess.keys(used)
    if not keys:
        return ""
    words = [f"a '{keys['separator']}'-separated export" if "separator" in keys
             else "an export"]
    if "decimal" in keys:
        words.append("with decimal commas")
    if "encoding" in keys:
        words.append(f"in {keys['encoding']}")
    if "date_format" in keys:
        words.append(f"with dates as {keys['date_format']}")
    shown = ", ".join(f"{k}: {v!r}" if k != "encoding" else f"{k}: {v}" for k, v in keys.items())
    return (f"it looks like {', '.join(words)}: declare it in the mapping file (--mapping) "
            f"as dialect: {{{shown}}}")
