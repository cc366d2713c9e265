"""Output files named by the user: checked before any work, replaced without losing anything.

A command that writes a file the user named (``--plot FILE``) checks it
before it trains or reads anything: the folder it goes in must exist and
take files, the name must not be a folder, and an existing file there is
replaced only when it is what lstmctl would write there (a PNG for a plot:
an earlier plot), never anything else. The file is then written under a
temporary name beside the target and renamed into place, so a failure
leaves the target as it was and no temporary file behind.

Model directories (``--out`` of finalize and update) are checked by
:func:`lstmctl.modeldir.writing.check_target`; run directories are always new
folders (:func:`lstmctl.rundir.create_run_dir`).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from lstmctl.errors import UsageError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def is_png(path: Path) -> bool:
    """Whether ``path`` is a file that starts as a PNG image does."""
    try:
        with open(path, "rb") as f:
            return f.read(len(PNG_SIGNATURE)) == PNG_SIGNATURE
    except OSError:
        return False


def found(path: Path) -> str:
    """What is at ``path``, in words: for messages saying what was found."""
    if path.is_symlink() and not path.exists():
        return "a broken symbolic link"
    if path.is_dir():
        return "a directory"
    if path.is_file():
        return "a file"
    return "something that is neither a file nor a directory" if path.exists() else "nothing"


def check_plot_target(path: str | Path, option: str = "--plot") -> Path:
    """The PNG file ``option`` names, checked before any work: new, or an earlier PNG."""
    return check_file_target(path, option, what="PNG", replaceable=is_png)


def check_file_target(
    path: str | Path,
    option: str,
    what: str,
    replaceable: Callable[[Path], bool],
) -> Path:
    """A file target: its folder exists and takes files; it is new or ``replaceable``.

    Raises a :class:`UsageError` naming the path, what was expected and what
    was found; nothing is created or changed.
    """
    path = Path(path)
    if path.exists() or path.is_symlink():
        if not path.is_file():
            raise UsageError(
                f"{option}: expected a {what} file to write, found {found(path)}", where=str(path)
            )
        if not replaceable(path):
            raise UsageError(
                f"{option}: expected a new file or an earlier {what} to replace, found a file "
                f"that is not a {what}; lstmctl leaves it alone (remove it or choose another name)",
                where=str(path),
            )
    folder = path.parent
    if not folder.is_dir():
        raise UsageError(
            f"{option}: expected an existing folder to write {path.name} in, found {found(folder)}",
            where=str(folder),
        )
    # Writing is the only test that holds for root and for read-only mounts.
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".lstmctl-write-test-")
    except OSError as e:
        raise UsageError(
            f"{option}: expected a folder that takes files, found one that does not ({e.strerror})",
            where=str(folder),
        ) from None
    os.close(fd)
    os.unlink(probe)
    return path


def write_file_atomic(path: Path, write: Callable[[Path], object]) -> Path:
    """Have ``write`` write a temporary file beside ``path``, then rename it into place.

    Readers see the old file or the new one, never half of one; if anything
    fails the temporary file is removed and ``path`` is as it was.
    """
    path = Path(path)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        # mkstemp makes the file private (0600); results are meant to be shared.
        os.chmod(tmp, 0o666 & ~umask())
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def umask() -> int:
    """The process's umask (what ``mkdir`` and ``open`` take away from new files' modes)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask
