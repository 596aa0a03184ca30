"""BENCHMARKS.md, the results page: each benchmark command owns one section between
`<!-- NAME:start -->` and `<!-- NAME:end -->` and rewrites only that section."""

from __future__ import annotations

from pathlib import Path

PAGE = "BENCHMARKS.md"
HEADER = ("# Benchmarks\n\nEvery table on this page is written by the command named in its section; "
          "the README quotes only what is here.\n")


def markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def write_section(path: str | Path, name: str, text: str) -> None:
    """Replace section `name` (or append it); the rest of the page is kept."""
    path = Path(path)
    start, end = markers(name)
    body = path.read_text() if path.exists() else HEADER
    block = f"{start}\n{text.strip()}\n{end}"
    if start in body and end in body:
        body = body[:body.index(start)] + block + body[body.index(end) + len(end):]
    else:
        body = body.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(body)


def finish(path: str | Path, name: str, section: list[str], started: float, ml100k: Path, benchmarked: bool) -> None:
    """The end of a benchmark that runs on ML-100K when it can: the note when it could not,
    the whole benchmark's minutes, section `name` written to the page and printed."""
    import time

    if not benchmarked:
        section += [f"ML-100K not benchmarked: no folder at {ml100k} (`make fetch DATASET=ml-100k`).", ""]
    section += [f"Whole benchmark: {(time.time() - started) / 60:.1f} min."]
    write_section(path, name, "\n".join(section))
    print("\n".join(section))


def commit() -> str:
    """The checkout's short commit, for a section's stamp ("unknown" outside a git checkout)."""
    import subprocess

    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
