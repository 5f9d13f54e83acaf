"""Which files make up an SNANA data set: a directory with its ``.LIST`` (and optional
``.IGNORE``), a ``.LIST`` file, single light-curve files, or FITS HEAD/PHOT pairs."""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._errors import ConfigError, DataError
from ._lightcurve import Drop
from ._snana import read_text_file
from ._snana_fits import fits_kind, fits_partner


@dataclass(frozen=True)
class Entry:
    """One light-curve file to read (``kind`` "text" or "fits": a HEAD file), and the
    ``.LIST`` file and line that named it, if any."""

    path: Path
    kind: str
    listed_in: str | None = None
    line: int | None = None


@dataclass
class Listing:
    """Files to read, names to ignore (name -> "file:line" of the ignore entry), and the
    listed files skipped because they do not exist (only with ``missing="drop"``)."""

    entries: list[Entry] = field(default_factory=list)
    ignore: dict[str, str] = field(default_factory=dict)
    drops: list[Drop] = field(default_factory=list)


def _table_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, first token) of each non-blank, non-comment line of a list file."""
    out = []
    for lineno, raw in enumerate(read_text_file(path).splitlines(), start=1):
        content = raw.split("#", 1)[0].strip()
        if content:
            out.append((lineno, content.split()[0]))
    return out


def _file_entry(path: Path, listed_in: str | None = None, line: int | None = None) -> Entry:
    """Entry for a light-curve file; a PHOT file stands for its HEAD file."""
    kind = fits_kind(path)
    if kind is None:
        return Entry(path, "text", listed_in, line)
    if kind == "PHOT":
        head, tried = fits_partner(path)
        if not head.is_file():
            raise DataError(
                "PHOT file without its HEAD file: expected one of "
                + ", ".join(p.name for p in tried),
                file=str(path),
            )
        path = head
    return Entry(path, "fits", listed_in, line)


def _find_list(directory: Path) -> Path:
    """The ``.LIST`` file of a data directory: ``<dir name>.LIST``, else the only one."""
    preferred = directory / f"{directory.name}.LIST"
    if preferred.is_file():
        return preferred
    found = sorted(p for p in directory.iterdir() if p.suffix.upper() == ".LIST" and p.is_file())
    if len(found) == 1:
        return found[0]
    if not found:
        raise DataError(
            f"directory has no .LIST file: expected {preferred.name} naming its light-curve "
            "files (or pass the files themselves)",
            file=str(directory),
        )
    raise DataError(
        f"directory has several .LIST files ({', '.join(p.name for p in found)}); "
        "pass the one to read",
        file=str(directory),
    )


def _read_list(list_file: Path, listing: Listing, missing: str) -> None:
    """Add the files named in a ``.LIST`` file (relative to its directory); an entry
    naming a folder or a ``.LIST`` file (this one included) is an error."""
    lines = _table_lines(list_file)
    if not lines:
        raise DataError("LIST file names no light-curve files", file=str(list_file))
    root = list_file.parent
    for lineno, name in lines:
        path = root / name
        if path.is_dir() or (path.is_file() and path.suffix.upper() == ".LIST"):
            if path.is_dir():
                what = "a folder"
            elif path.resolve() == list_file.resolve():
                what = "this LIST file itself"
            else:
                what = "another LIST file"
            raise DataError(
                f"listed entry {name!r} is {what}: expected light-curve files (a LIST does "
                "not name folders or other lists)",
                file=str(list_file),
                line=lineno,
            )
        if path.is_file():
            listing.entries.append(_file_entry(path, str(list_file), lineno))
            continue
        message = f"listed file {name!r} not found in {root}"
        siblings = os.listdir(path.parent) if path.parent.is_dir() else []
        close = difflib.get_close_matches(path.name, siblings, n=1, cutoff=0.9)
        if close:
            message += f" (a file {close[0]!r} exists: a typo in the LIST?)"
        if missing == "raise":
            raise DataError(
                message + "; pass missing='drop' to skip missing entries",
                file=str(list_file),
                line=lineno,
            )
        listing.drops.append(
            Drop(
                snid=Path(name).name,
                band=None,
                mjd=None,
                reason=message,
                source=f"{list_file}:{lineno}",
            )
        )


def _read_ignore(ignore_file: Path, listing: Listing) -> None:
    for lineno, name in _table_lines(ignore_file):
        listing.ignore.setdefault(name, f"{ignore_file}:{lineno}")


def _expand(path: Path, pattern: str | None) -> list[Path]:
    """The files a glob ``path`` matches, or those ``pattern`` matches in the directory
    ``path``; otherwise ``[path]``."""
    if any(c in str(path) for c in "*?["):
        if pattern is not None:
            raise ConfigError("give a glob in path or pattern, not both", field="pattern")
        anchor = Path(path.anchor) if path.is_absolute() else Path()
        relative = path.relative_to(anchor) if path.is_absolute() else path
        matched = sorted(anchor.glob(str(relative)))
        if not matched:
            raise DataError("no files match this glob", file=str(path))
        return matched
    if pattern is None:
        return [path]
    if not path.is_dir():
        raise ConfigError(f"{path} is not a folder (pattern needs one)", field="path")
    matched = sorted(path.glob(pattern))
    if not matched:
        raise ConfigError(f"no files match {pattern!r} in {path}", field="pattern")
    return matched


def collect(
    path: Any, *, ignore_file: Any = True, missing: str = "raise", pattern: str | None = None
) -> Listing:
    """Resolve the ``path`` argument of :meth:`Survey.from_snana` into files to read.

    Args:
        path: a light-curve file, a FITS HEAD or PHOT file, a ``.LIST`` file, a data
            directory (containing a ``.LIST``), a glob of files (``lcs/*.txt``), or a list
            of any of these.
        pattern: a glob of light-curve files inside each directory of ``path``, read
            instead of the directory's ``.LIST``.
        ignore_file: ``True`` to honour the ``<list name>.IGNORE`` file beside each
            ``.LIST`` if present, ``False`` to ignore none, or the path of an ignore file.
            Ignore files list SNIDs (or listed file names) to leave out, one per line.
        missing: ``"raise"`` (default) or ``"drop"``: what to do with a ``.LIST`` entry
            whose file does not exist.
    """
    if missing not in ("raise", "drop"):
        raise ConfigError(f"expected 'raise' or 'drop', got {missing!r}", field="missing")
    if isinstance(path, str | os.PathLike):
        items = [path]
    elif isinstance(path, list | tuple):
        items = list(path)
        if not items:
            raise ConfigError("empty list of light-curve files", field="path")
    else:
        raise ConfigError(
            f"expected a path or a list of paths, got {type(path).__name__}", field="path"
        )
    listing = Listing()
    list_files: list[Path] = []
    expanded = []
    for item in items:
        if not isinstance(item, str | os.PathLike):
            raise ConfigError(f"expected a path, got {item!r}", field="path")
        expanded += _expand(Path(item), pattern)
    for p in expanded:
        if not p.exists():
            raise DataError("no such file or directory", file=str(p))
        if p.is_dir():
            p = _find_list(p)
        if p.suffix.upper() == ".LIST":
            _read_list(p, listing, missing)
            list_files.append(p)
        else:
            listing.entries.append(_file_entry(p))

    if ignore_file is True:
        for list_file in list_files:
            candidate = list_file.with_suffix(".IGNORE")
            if candidate.is_file():
                _read_ignore(candidate, listing)
    elif isinstance(ignore_file, str | os.PathLike):
        _read_ignore(Path(ignore_file), listing)
    elif ignore_file not in (False, None):
        raise ConfigError(
            f"expected True, False or a path, got {ignore_file!r}", field="ignore_file"
        )

    seen: set[Path] = set()
    unique = []
    for entry in listing.entries:
        key = entry.path.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(entry)
    listing.entries = unique
    return listing
