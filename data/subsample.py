"""A sparser copy of a raw MovieLens folder: each rating kept with probability `fraction`.

Real data a user brings may be far sparser per user and movie than ML-100K; the model's
margin over the baseline must be checked there too (BENCHMARKS.md, "Sparse data"). The copy
holds every file of the folder unchanged but the ratings file (ML-100K's u.data, ML-1M's
ml-1m/ratings.dat), whose lines are each kept with probability `fraction`, drawn in file
order from Python's random.Random(seed): the same folder, fraction and seed give the same
copy. `python -m data.cli subsample --raw <folder> --fraction 0.5 --out <folder>`.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

from common.errors import UserError

RATING_FILES = ("u.data", "ml-1m/ratings.dat")


def subsample(raw: str | Path, out: str | Path, fraction: float, seed: int = 0) -> dict:
    """Writes the copy to `out` (which must not exist or be empty); returns the line counts."""
    raw, out = Path(raw), Path(out)
    if not 0.0 < fraction <= 1.0:
        raise UserError(f"--fraction {fraction}: must be in (0, 1]")
    if not raw.is_dir():
        raise UserError(f"--raw {raw}: no such folder")
    ratings = [name for name in RATING_FILES if (raw / name).is_file()]
    if not ratings:
        raise UserError(f"--raw {raw}: no {' or '.join(RATING_FILES)} (an ML-100K or ML-1M folder)")
    if out.resolve() == raw.resolve() or raw.resolve() in out.resolve().parents:
        raise UserError(f"--out {out}: inside --raw {raw}")
    if out.exists() and any(out.iterdir()):
        raise UserError(f"--out {out}: exists and is not empty (nothing written)")
    staging = out.with_name(out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(raw, staging, ignore=lambda folder, names: [
        n for n in names if (Path(folder) / n).relative_to(raw).as_posix() in ratings])
    rng = random.Random(seed)
    counts = {}
    for name in ratings:
        read = kept = 0
        with open(raw / name, "rb") as src, open(staging / name, "wb") as dst:
            for line in src:
                read += 1
                if rng.random() < fraction:
                    dst.write(line)
                    kept += 1
        counts[name] = {"read": read, "kept": kept}
    if out.exists():
        out.rmdir()
    staging.rename(out)            # a failed copy leaves no half-written `out`
    return counts
