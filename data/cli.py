"""Data-stage command line: `python -m data.cli generate|prepare ...`."""

from __future__ import annotations

import argparse
import json

from data import prepare, synthetic


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m data.cli", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="write synthetic MovieLens-1M + IMDb files")
    gen.add_argument("--size", choices=sorted(synthetic.SIZES), default="default")
    gen.add_argument("--seed", type=int, default=42)
    gen.add_argument("--out", required=True)
    prep = sub.add_parser("prepare", help="raw files -> prepared CSVs + manifest")
    prep.add_argument("--raw", required=True, help="folder with ml-1m/ (and imdb/, links.csv)")
    prep.add_argument("--out", required=True)
    prep.add_argument("--partners", type=int, default=prepare.PrepareConfig.partners)
    prep.add_argument("--seed", type=int, default=prepare.PrepareConfig.seed)
    prep.add_argument("--force", action="store_true", help="rebuild even if the manifest matches")
    args = parser.parse_args(argv)

    if args.command == "generate":
        print(synthetic.generate(args.out, args.size, args.seed))
    else:
        config = prepare.PrepareConfig(partners=args.partners, seed=args.seed)
        manifest = prepare.prepare(args.raw, args.out, config, force=args.force)
        print(json.dumps({k: manifest[k] for k in ("counts", "dropped", "imdb", "baseline")}, indent=2))


if __name__ == "__main__":
    main()
