"""The data stage's output folder: never someone else's, replaced in one atomic step, one writer.

- A folder is the data stage's only if it holds MARKER (written first into every output;
  folders written before the marker existed are recognised by their manifest). An existing
  folder that is not empty and not ours is refused, never emptied; so is a file, --raw
  itself, a folder inside --raw and a folder holding --raw.
- The new output is written into a fresh hidden sibling `.<name>.tmp-XXXX` and swapped in
  with one renameat2(RENAME_EXCHANGE) (Linux): before the exchange the old output is whole,
  after it the new one is; the leftover (the temp folder, then the old output) is deleted
  afterwards or, if the process is killed first, by the next run. Where the exchange is not
  supported, the old output is renamed to `.<name>.old`, the new one renamed in, the old one
  deleted; a kill between the two renames leaves `.<name>.old`, which the next run renames
  back before anything else.
- Writers of one output are serialised by an exclusive flock on `.<name>.lock` beside it: a
  second run waits (saying so on stderr), then finds the first one's result up to date.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import fcntl
import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from common.errors import UserError
from transform_fn import features as F

MARKER = ".data-stage-output"
MARKER_TEXT = "Written by the data stage (python -m data.cli prepare); it replaces this folder as a whole.\n"
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def is_ours(folder: Path) -> bool:
    folder = Path(folder)
    if (folder / MARKER).is_file():
        return True
    try:   # an output from before the marker: a manifest of the data stage
        manifest = json.loads((folder / F.MANIFEST_FILE).read_text())
        return isinstance(manifest, dict) and {"key", "outputs", "version"} <= set(manifest)
    except (OSError, ValueError):
        return False


def check_out(out: Path, raw: Path | None = None) -> None:
    """Refuses an output folder the data stage must not write (UserError saying why)."""
    out = Path(out)
    target = out.resolve()
    if raw is not None:
        source = Path(raw).resolve()
        if target == source or target in source.parents:
            raise UserError(f"--out {out} is the --raw folder or holds it: the data stage never writes "
                            f"into or above its input; choose another --out")
        if source in target.parents:
            raise UserError(f"--out {out} is inside the --raw folder {raw}: the data stage never writes "
                            f"into its input; choose another --out")
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file, not a folder: the data stage writes a folder and never "
                        f"replaces a file; choose another --out")
    if out.is_dir() and not os.access(out, os.W_OK | os.X_OK):
        raise UserError(f"--out {out} is read-only: the data stage replaces the folder as a whole and "
                        f"would have to delete its files; make it writable or choose another --out")
    if out.parent.exists() and not os.access(out.parent, os.W_OK | os.X_OK):
        raise UserError(f"--out {out}: its parent folder {out.parent} is not writable; choose another --out")
    if out.is_dir() and any(out.iterdir()) and not is_ours(out):
        raise UserError(f"--out {out} holds files the data stage did not write (no {MARKER} in it): it is "
                        f"never emptied or overwritten; choose a new or empty folder")


@contextlib.contextmanager
def file_lock(path: Path, owner: str, busy):
    """An exclusive flock on `path` for the with-block, with `owner` written into the file.
    While another process holds it, busy(what that process wrote) is called: it raises to
    refuse, or returns to wait for the lock. The kernel drops the lock if the holder dies."""
    with open(path, "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            busy(lock.read().strip() or "unknown")
            fcntl.flock(lock, fcntl.LOCK_EX)
        lock.seek(0)
        lock.truncate()
        lock.write(f"{owner}\n")
        lock.flush()
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def locked(out: Path):
    """Holds the exclusive lock of one output folder; waits (with a message) while another run has it."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)

    def wait(holder: str) -> None:
        print(f"data stage: another run (pid {holder}) is writing {out}; waiting for it to finish",
              file=sys.stderr, flush=True)

    return file_lock(out.parent / f".{out.name}.lock", str(os.getpid()), wait)


def _old(out: Path) -> Path:
    return out.parent / f".{out.name}.old"


def recover(out: Path) -> None:
    """Under the lock: undoes what a killed run left (a half swap, temp folders)."""
    out, old = Path(out), _old(out)
    if old.is_dir() and is_ours(old):
        if not out.exists():
            old.rename(out)            # killed between the two renames of the fallback swap
        else:
            shutil.rmtree(old)
    for tmp in out.parent.glob(f".{out.name}.tmp-*"):
        if tmp.is_dir() and (is_ours(tmp) or not any(tmp.iterdir())):   # ours, old or new
            shutil.rmtree(tmp)


def new_temp(out: Path) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    (tmp / MARKER).write_text(MARKER_TEXT)
    return tmp


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swaps two paths (Linux renameat2); False where that is not supported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (22, 38, 95):    # EINVAL, ENOSYS, EOPNOTSUPP: the file system cannot exchange
        return False
    raise OSError(err, os.strerror(err), str(b))


@contextlib.contextmanager
def writing(path: Path):
    """An OSError raised meanwhile (a full disk, a file-size limit, a permission) names `path`,
    the output file being written, so that the one-line message says which file."""
    try:
        yield
    except OSError as error:
        if error.filename:
            raise
        raise OSError(error.errno, error.strerror or str(error), str(path)) from error


def _removable(folder: Path) -> str | None:
    """The first entry under folder that cannot be deleted (a read-only folder in it), None if none."""
    for dirpath, dirnames, _ in os.walk(folder):
        if not os.access(dirpath, os.W_OK | os.X_OK):
            return dirpath
    return None


def swap_in(tmp: Path, out: Path) -> None:
    """Puts the complete folder tmp at out in one step, then deletes the old output. Refuses
    (UserError, nothing moved) when the old output could not be deleted afterwards, so that a
    failed swap never leaves a hidden copy beside --out."""
    tmp, out = Path(tmp), Path(out)
    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        os.replace(tmp, out)           # rename(2) replaces a missing or empty folder atomically
        return
    stuck = _removable(out)
    if stuck is not None:
        raise UserError(f"--out {out}: {stuck} is read-only, so the old output could not be replaced; "
                        f"make it writable or choose another --out (nothing was changed)")
    if _exchange(tmp, out):
        shutil.rmtree(tmp)             # now the old output
        return
    old = _old(out)
    out.rename(old)
    tmp.rename(out)
    shutil.rmtree(old)


def sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def damaged(out: Path, outputs: dict[str, str]) -> str | None:
    """The first output file that is missing or differs from its checksum, None if all match."""
    for rel, digest in sorted(outputs.items()):
        path = Path(out) / rel
        if not path.is_file():
            return f"{rel} is missing"
        if sha256(path) != digest:
            return f"{rel} does not match its checksum in the manifest"
    return None
