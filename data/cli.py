"""Data-stage command line: `python -m data.cli generate|prepare ...`."""

from __future__ import annotations

import argparse
import json

from pathlib import Path

from data import download, prepare, synthetic


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m data.cli", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="write synthetic MovieLens-1M + IMDb files")
    gen.add_argument("--size", choices=sorted(synthetic.SIZES), default="default")
    gen.add_argument("--seed", type=int, default=42)
    gen.add_argument("--out", required=True)
    get = sub.add_parser("fetch", help="download (or copy from --source) a real data set")
    get.add_argument("--dataset", choices=sorted(download.DATASETS), required=True)
    get.add_argument("--out", default="work/raw/real", help="where the data stage will read it")
    get.add_argument("--cache", default="work/cache", help="downloaded archives, reused")
    get.add_argument("--source", help="a folder already holding the archives or TSVs (no download)")
    prep = sub.add_parser("prepare", help="raw files -> prepared CSVs + manifest")
    prep.add_argument("--raw", required=True,
                      help="folder with ml-1m/ or ML-100K's u.* files (and optionally imdb/, links.csv)")
    prep.add_argument("--out", required=True)
    prep.add_argument("--partners", type=int, default=prepare.PrepareConfig.partners)
    prep.add_argument("--seed", type=int, default=prepare.PrepareConfig.seed)
    prep.add_argument("--force", action="store_true", help="rebuild even if the manifest matches")
    prep.add_argument("--strict", action="store_true", help="fail on the first bad row, naming file and line")
    args = parser.parse_args(argv)

    if args.command == "generate":
        print(synthetic.generate(args.out, args.size, args.seed))
    elif args.command == "fetch":
        try:
            out = download.fetch(args.dataset, Path(args.out), Path(args.cache),
                                 Path(args.source) if args.source else None)
        except download.DownloadError as e:
            raise SystemExit(f"fetch: {e}")
        print(f"{args.dataset} is in {out}; prepare it with: python -m data.cli prepare --raw {out}")
    else:
        config = prepare.PrepareConfig(partners=args.partners, seed=args.seed, strict=args.strict)
        manifest = prepare.prepare(args.raw, args.out, config, force=args.force)
        print(json.dumps({k: manifest[k] for k in ("format", "counts", "dropped", "repaired", "imdb", "baseline")},
                         indent=2))


if __name__ == "__main__":
    main()
