"""Which files a load may read: regular files inside the export folder, checked before anything opens them.

A mapping names its files relative to the export folder, and an export is
often a folder someone else filled. So a `file:` that is absolute or climbs
out with `..` is refused when the mapping is read, and a file that is a link
to somewhere outside the folder (`/etc/passwd`), or is not a regular file at
all (a fifo, `/dev/zero`, a folder), is refused before it is opened: opening
a fifo blocks, reading `/dev/zero` never ends, and reading a file outside
the folder could echo what the user never meant to load. Links that stay
inside the folder, a folder that is itself a link, and files in its
subfolders are fine.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath, PureWindowsPath

from graph.store import InvalidInput

_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a fifo (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def file_name_problem(name: str) -> str | None:
    """Why a mapping's `file:` cannot name a file inside the export folder, or None when it can."""
    if not name.strip():
        return "no file name"
    if "\x00" in name:
        return "the file name holds a NUL byte"
    if PurePosixPath(name).is_absolute() or PureWindowsPath(name).is_absolute() or PureWindowsPath(name).drive:
        return f"{name!r} is an absolute path: name the file relative to the export folder (e.g. accounts.csv)"
    if ".." in PureWindowsPath(name).parts:  # Windows paths split on both / and \
        return f"{name!r} climbs out of the export folder (`..`): name a file inside it"
    return None


def export_file_problem(source_dir: Path, name: str) -> str | None:
    """Why the mapping's file `name` may not be read from `source_dir`, or None when it is a regular file inside it.

    Only names and `stat` are looked at: nothing is opened.
    """
    problem = file_name_problem(name)
    if problem:
        return problem
    path = Path(source_dir) / name
    if not os.path.lexists(path):
        return f"missing from {source_dir}"
    try:
        root, target = Path(source_dir).resolve(strict=True), path.resolve(strict=True)
        mode = target.stat().st_mode
    except FileNotFoundError:
        return f"a link to a file that does not exist (in {source_dir})"
    except (OSError, RuntimeError) as e:  # a loop of links, no permission
        return f"cannot be examined ({type(e).__name__}: {getattr(e, 'strerror', None) or e})"
    if not target.is_relative_to(root):
        return f"a link to a file outside the export folder {source_dir}: refused (only files inside it are read)"
    if not stat.S_ISREG(mode):
        kind = next((k for test, k in _KINDS if test(mode)), "not a regular file")
        return f"{kind}, not a regular file: refused"
    return None


def export_file(source_dir: Path, name: str) -> Path:
    """The path of the mapping's file `name` in `source_dir`, known to be a regular file inside it.

    Raises:
        InvalidInput: it is not (see `export_file_problem`); the message names the file.
    """
    problem = export_file_problem(source_dir, name)
    if problem:
        raise InvalidInput(f"{name}: {problem}")
    return Path(source_dir) / name
