"""Data-stage command line: `python -m data.cli generate|fetch|prepare|subsample ...`.

Output folders default to their place under --work-dir (common/layout.py):
generate -> <work>/raw/synthetic-<size>-seed<seed>, fetch -> <work>/raw/real (archives
cached in <work>/cache), prepare -> <work>/prepared/<name of the raw folder>.

A mistake in the input or the invocation (a missing file, a bad flag, a folder the data
stage must not write, data too small to train on, --strict's first bad line, a full disk)
is one line on stderr and exit code 2; --verbose adds the traceback.
"""

from __future__ import annotations

import argparse
import json

from pathlib import Path

from data import download, prepare, subsample, synthetic
from common.errors import UserError, run_cli
from common.layout import DEFAULT_WORK_DIR, WorkLayout


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m data.cli", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--verbose", action="store_true", help="show the traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="write synthetic MovieLens + IMDb files (ML-1M's shape; "
                                          "--size ml-10m: ML-10M's, half stars and no users.dat; "
                                          "--size ml-latest-small: the CSV releases' files)")
    gen.add_argument("--size", choices=sorted(synthetic.SIZES), default="default",
                     help="the data's size and shape (default %(default)s)")
    gen.add_argument("--seed", type=int, default=prepare.PrepareConfig.seed,
                     help="the generator's seed (default %(default)s)")
    gen.add_argument("--work-dir", default=DEFAULT_WORK_DIR, help="the work folder (default %(default)s)")
    gen.add_argument("--out", help="default: <work-dir>/raw/synthetic-<size>-seed<seed>")
    get = sub.add_parser("fetch", help="download (or copy from --source) a real data set")
    get.add_argument("--dataset", choices=sorted(download.DATASETS), required=True, help="the release to fetch")
    get.add_argument("--work-dir", default=DEFAULT_WORK_DIR, help="the work folder (default %(default)s)")
    get.add_argument("--out", help="where the data stage will read it (default: <work-dir>/raw/real)")
    get.add_argument("--cache", help="downloaded archives, reused (default: <work-dir>/cache)")
    get.add_argument("--source", help="a folder already holding the archives or TSVs (no download)")
    prep = sub.add_parser("prepare", help="raw files -> prepared CSVs + manifest")
    prep.add_argument("--raw", required=True,
                      help="folder with ml-1m/ or ML-100K's u.* files, or an ML-10M, ML-20M, ML-25M or "
                           "ml-latest(-small) folder (and optionally imdb/, links.csv)")
    prep.add_argument("--work-dir", default=DEFAULT_WORK_DIR, help="the work folder (default %(default)s)")
    prep.add_argument("--out", help="default: <work-dir>/prepared/<name of the --raw folder>")
    prep.add_argument("--partners", type=positive_int, default=prepare.PrepareConfig.partners,
                      help="each window is paired with this many others of the same target movie and period "
                           "(default %(default)s)")
    prep.add_argument("--seed", type=int, default=prepare.PrepareConfig.seed,
                      help="the pairing's and the shuffles' seed (default %(default)s)")
    prep.add_argument("--origin", type=float, default=prepare.PrepareConfig.origin,
                      help="the fraction of each user's train ratings before the rolling origin (1: none)")
    prep.add_argument("--force", action="store_true", help="rebuild even if the manifest matches")
    prep.add_argument("--strict", action="store_true", help="fail on the first bad row, naming file and line")
    sparse = sub.add_parser("subsample", help="a sparser copy of a raw folder: each rating kept with --fraction")
    sparse.add_argument("--raw", required=True, help="an ML-100K folder (u.*) or one holding ml-1m/")
    sparse.add_argument("--fraction", type=float, required=True, help="the probability a rating is kept, in (0, 1]")
    sparse.add_argument("--seed", type=int, default=0, help="the draws' seed (default %(default)s)")
    sparse.add_argument("--out", required=True, help="a new folder for the copy")
    for p in (gen, get, prep, sparse):
        p.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS,
                       help="show the traceback of an error")
    args = parser.parse_args(argv)
    run_cli(parser.prog, lambda: _main(args), verbose=args.verbose)


def _main(args) -> None:
    if args.command == "subsample":
        print(json.dumps(subsample.subsample(args.raw, args.out, args.fraction, args.seed)))
        print(f"run the pipeline on it with: make run RAW={args.out}")
        return
    work = WorkLayout.at(args.work_dir)

    if args.command == "generate":
        print(synthetic.generate(args.out or work.synthetic_raw(args.size, args.seed), args.size, args.seed))
    elif args.command == "fetch":
        out = download.fetch(args.dataset, Path(args.out) if args.out else work.real_raw,
                             Path(args.cache) if args.cache else work.cache,
                             Path(args.source) if args.source else None)
        for name in download.unverified(args.dataset):
            print(f"{name}: no published checksum pinned (the file changes under its URL): fetched unverified")
        # ML-1M is read from the folder holding ml-1m/ and imdb/; the other releases from their own folder.
        raw = out / download.FOLDERS[args.dataset] if args.dataset not in ("ml-1m", "imdb") else out
        print(f"{args.dataset} is in {out}; run the pipeline on it with: make run RAW={raw}")
    else:
        if args.raw and not Path(args.raw).is_dir():
            raise UserError(f"--raw {args.raw}: {'is a file, not a folder' if Path(args.raw).exists() else 'no such folder'}")
        config = prepare.PrepareConfig(partners=args.partners, seed=args.seed, strict=args.strict, origin=args.origin)
        out = args.out or work.prepared_for(args.raw)
        manifest = prepare.prepare(args.raw, out, config, force=args.force)
        print(json.dumps({k: manifest[k] for k in ("format", "demographics", "rating_scale", "counts", "dropped",
                                                   "repaired", "imdb", "baseline")}, indent=2))


if __name__ == "__main__":
    main()
