"""Data-stage benchmark: wall time and peak RSS per step, printed.

    python -m bench.data_stage --size ml-1m --work-dir work      # files under work/bench/

Peak RSS is the process's high-water mark after each step (it never goes down), so the
step where it jumps is the step that needed the memory.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import time

from data import imdb, movielens, prepare, synthetic
from data.rejects import Rejects
from data.windows import make_windows, pair_windows, split_in_time
from common.layout import DEFAULT_WORK_DIR, WorkLayout


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.data_stage", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", choices=sorted(synthetic.SIZES), default="ml-1m", help="the synthetic size (default %(default)s)")
    p.add_argument("--work-dir", default=DEFAULT_WORK_DIR, help="the benchmark writes under <work-dir>/bench")
    p.add_argument("--seed", type=int, default=prepare.PrepareConfig.seed, help="the data and pairing seed (default %(default)s)")
    p.add_argument("--json", help="also write the steps and counts to this JSON file (make bench reads it)")
    args = p.parse_args(argv)
    work = WorkLayout.at(args.work_dir).bench
    raw = work / f"raw-{args.size}-seed{args.seed}"
    rows = []

    def step(name, fn):
        start = time.perf_counter()
        result = fn()
        rows.append((name, time.perf_counter() - start, _peak_mb()))
        return result

    if not (raw / "ml-1m" / "ratings.dat").exists():
        step("generate (not part of the stage)", lambda: synthetic.generate(raw, args.size, args.seed))
    config = prepare.PrepareConfig(seed=args.seed)
    rejects = Rejects()
    _, users, movies, ratings = step("parse MovieLens", lambda: movielens.read_movielens(raw, rejects))
    step("IMDb join (links.csv)", lambda: imdb.movie_features(movies, raw / "imdb", raw / "links.csv"))
    step("IMDb join (title and year)", lambda: imdb.movie_features(movies, raw / "imdb", None))
    timeline = step("split in time", lambda: split_in_time(ratings[["user_id", "movie_id", "rating", "timestamp"]]))
    windows = step("windows", lambda: make_windows(timeline))
    pairs = step("pairs", lambda: pair_windows(windows, config.partners, config.seed))
    manifest = step("whole stage, written (prepare)",
                    lambda: prepare.prepare(raw, work / f"prepared-{args.size}", config, force=True))

    print(f"data stage benchmark: size {args.size}, {len(ratings):,} ratings, {len(windows):,} windows, "
          f"{len(pairs):,} pairs; {platform.node()}, {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}")
    print(f"{'step':34s} {'seconds':>9s} {'peak RSS MB':>12s}")
    for name, seconds, peak in rows:
        print(f"{name:34s} {seconds:9.2f} {peak:12.0f}")
    print(f"pair rows per split: {manifest['counts']['pairs_per_split']}; IMDb match rate "
          f"{manifest['imdb']['match_rate']:.1%}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"size": args.size, "raw": str(raw), "ratings": len(ratings), "counts": manifest["counts"],
                       "steps": [{"step": name, "seconds": seconds, "peak_rss_mb": peak}
                                 for name, seconds, peak in rows]}, f, indent=2)


if __name__ == "__main__":
    main()
