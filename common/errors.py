"""User-facing errors and the one way every command line reports them.

UserError is a problem with what the user gave (a path, a flag, the data) that they can fix:
the command lines print its message on one line of stderr and exit with code 2, the
traceback only under --verbose. Ordinary OS errors (a missing path, a permission, a full
disk) and damaged archives are reported the same way.
"""

from __future__ import annotations

import errno
import gzip
import sys
import traceback
import zipfile
import zlib

EXIT_USAGE = 2


class UserError(Exception):
    """A mistake in the input or the invocation; the message says what and where."""


def user_message(error: BaseException) -> str | None:
    """The one-line message for an error the user can fix, None for a bug."""
    if isinstance(error, UserError):
        return str(error)
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        where = f" writing {error.filename}" if error.filename else ""
        return f"disk full{where}: free some space and run again"
    if isinstance(error, OSError) and error.errno in (errno.EFBIG, errno.EDQUOT):
        where = f" writing {error.filename}" if error.filename else ""
        why = "a file-size limit (ulimit -f)" if error.errno == errno.EFBIG else "the disk quota"
        return f"file too large{where}: {why} was reached; raise it or choose another output folder"
    if isinstance(error, OSError) and error.errno in (errno.EROFS,):
        return f"{error.filename or 'output'}: read-only file system; choose another output folder"
    if isinstance(error, (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError,
                          FileExistsError)) or (isinstance(error, OSError) and error.filename):
        path = f"{error.filename}: " if error.filename else ""
        return f"{path}{error.strerror or error}"
    if isinstance(error, OSError) and error.errno:     # any other failed write or read: one line, exit 2
        return f"{error.strerror or error} ({errno.errorcode.get(error.errno, error.errno)})"
    if isinstance(error, (zipfile.BadZipFile, gzip.BadGzipFile, zlib.error, EOFError)):
        return f"damaged or truncated archive: {error}"
    return None


def run_cli(prog: str, body, verbose: bool = False):
    """Runs body(); a user error or OS error becomes `prog: error: message` on stderr, exit 2."""
    try:
        return body()
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as e:   # noqa: BLE001 -- only the ones user_message recognises are caught
        message = user_message(e)
        if message is None:
            raise
        if verbose:
            traceback.print_exc()
        print(f"{prog}: error: {message}", file=sys.stderr)
        sys.exit(EXIT_USAGE)
