"""Scale benchmark: the whole pipeline at 0.1x, 0.3x and 1x of MovieLens-1M's size.

    python -m bench.scale --work-dir work            # make bench (well over an hour on 2 cores)
    python -m bench.scale --work-dir work --quick    # make bench ARGS=--quick (0.03x, 0.1x)

The data is the embedded synthetic generator at ML-1M's catalogue (3,706 movies) with 10%,
30% and all of its 6,040 users (data/synthetic.py sizes ml-1m-0.1, ml-1m-0.3, ml-1m). For
each size, from nothing:
- the data stage's steps, each timed with its peak RSS (`python -m bench.data_stage`);
- the pipeline (`python -m runners.run_local --no-cache`) in a child process whose process
  tree's RSS is sampled every 0.2 s: wall time and peak RSS per component (from MLMD's
  execution times), rows per second, and the test RMSE of the models it trained.
Then a fitted exponent per component (seconds ~ rows^b over the sizes). On the largest size:
a model-only re-run (the project copied with one changed line in trainer_fn/model.py:
which components re-execute and how long it takes), and the same Keras model trained by a
plain tf.data loop on the same transformed data, for TFX's overhead as a ratio. On the
smallest size, the seed's training setup (--preset seed) as a model-only re-run, for its
test RMSE beside the default's. Writes the `scale` section of BENCHMARKS.md (--quick:
`scale-quick`).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import psutil

from bench import page as benchmarks_page
from common import LEGACY_KERAS
from common.code import code_folders
from bench.model import run_rmse
from pipeline.config import PROJECT_ROOT
from common.layout import DEFAULT_WORK_DIR, WorkLayout
from transform_fn import features as F

FULL = ("ml-1m-0.1", "ml-1m-0.3", "ml-1m")
QUICK = ("ml-1m-0.03", "ml-1m-0.1")
LABEL = {"ml-1m-0.03": "0.03x", "ml-1m-0.1": "0.1x", "ml-1m-0.3": "0.3x", "ml-1m": "1x"}
# What the model-only re-run copies: every code folder of the project (common/code.py).
CODE_FOLDERS = code_folders(PROJECT_ROOT)
# Components that execute no user work (their seconds are MLMD bookkeeping).
QUIET = ("ImportSchemaGen", "ExampleValidator", "AnomalyGate", "latest_blessed_model_resolver", "Pusher")


class RssSampler:
    """Samples the RSS of a process and all its children every `every` seconds."""

    def __init__(self, pid: int, every: float = 0.2):
        self.process, self.every = psutil.Process(pid), every
        self.samples: list[tuple[float, float]] = []   # (time, MB)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _run(self):
        while not self._stop.is_set():
            try:
                procs = [self.process, *self.process.children(recursive=True)]
                total = 0
                for proc in procs:
                    try:
                        total += proc.memory_info().rss
                    except psutil.Error:
                        pass
                self.samples.append((time.time(), total / 2**20))
            except psutil.Error:
                return
            self._stop.wait(self.every)

    def peak(self, start: float = 0.0, end: float = float("inf")) -> float:
        values = [mb for t, mb in self.samples if start <= t <= end]
        return max(values) if values else float("nan")


def _env(root: Path) -> dict:
    return {**os.environ, **LEGACY_KERAS, "PYTHONPATH": str(root), "TF_CPP_MIN_LOG_LEVEL": "2"}


def data_stage(size: str, work_dir: str, out: Path, log) -> dict:
    subprocess.run([sys.executable, "-m", "bench.data_stage", "--size", size, "--work-dir", work_dir,
                    "--json", str(out)], check=True, stdout=log, stderr=subprocess.STDOUT, env=_env(PROJECT_ROOT))
    return json.loads(out.read_text())


def run_pipeline(work_dir: Path, raw: str, extra: list[str], log, root: Path = PROJECT_ROOT) -> dict:
    """One run_local in a child process; wall time, peak RSS per component, test RMSE."""
    from pipeline import runs as summary

    started = time.time()
    proc = subprocess.Popen([sys.executable, "-m", "runners.run_local", "--work-dir", str(work_dir),
                             "--raw", raw, "--no-report", *extra],
                            cwd=root, env=_env(root), stdout=log, stderr=subprocess.STDOUT)
    with RssSampler(proc.pid) as rss:
        code = proc.wait()
    wall = time.time() - started
    if code != 0:
        raise RuntimeError(f"run_local exited {code}; its output is in {log.name}")
    run = summary.latest_run(str(WorkLayout.at(work_dir).metadata), F.PIPELINE_NAME)
    first = min(c.started for c in run.components.values())
    components = {"start-up and data stage (run_local)": {"seconds": first - started, "peak_rss_mb": rss.peak(started, first),
                                             "state": "COMPLETE"}}
    for name, c in sorted(run.components.items(), key=lambda kv: kv[1].started):
        components[name] = {"seconds": c.seconds, "state": c.state, "peak_rss_mb": rss.peak(c.started, c.ended)}
    trainer = run.output("Trainer", "model_run")
    return {"wall": wall, "peak_rss_mb": rss.peak(), "components": components, "rmse": run_rmse(run),
            "blessed": run.blessed(), "trainer_model_run": trainer.uri if trainer else None,
            "pipeline_root": str(WorkLayout.at(work_dir).pipeline_root)}


def model_only_rerun(work_dir: Path, raw: str, copy: Path, log) -> dict:
    """The project copied with a one-line change to the rating model's code, re-run on the
    same work folder: what depends on the model re-executes, the rest comes from the cache."""
    shutil.rmtree(copy, ignore_errors=True)
    for folder in CODE_FOLDERS:
        shutil.copytree(PROJECT_ROOT / folder, copy / folder, ignore=shutil.ignore_patterns("__pycache__"))
    with open(copy / "trainer_fn" / "model.py", "a") as f:
        f.write(f"\n# make bench: a model-only change ({datetime.datetime.now():%Y-%m-%d %H:%M:%S})\n")
    return run_pipeline(work_dir, raw, [], log, root=copy)


def plain_loop(pipeline_root: Path, trainer_model_run: str) -> dict:
    """The Trainer's model (same hyperparameters, baseline tables, epochs and batch size)
    fed by a plain tf.data pipeline over the same transformed records, outside TFX."""
    import glob

    import tensorflow as tf
    import tensorflow_transform as tft

    from trainer_fn.baseline.svdpp import load_tables
    from trainer_fn.hparams import HParams
    from trainer_fn.model import build_model
    from trainer_fn.run import VOCABULARIES
    from transform_fn import features as F

    info = json.loads((Path(trainer_model_run) / F.HISTORY_FILE).read_text())
    hp = HParams.from_dict(info["hparams"])
    newest = lambda pattern: sorted(glob.glob(str(pipeline_root / pattern)))[-1]  # noqa: E731
    transform = tft.TFTransformOutput(newest("Transform/transform_graph/*"))
    examples = newest("Transform/transformed_examples/*")
    spec = transform.transformed_feature_spec()

    def records(split, shuffle):
        files = sorted(glob.glob(f"{examples}/Split-{split}/*"))
        ds = tf.data.TFRecordDataset(files, compression_type="GZIP", num_parallel_reads=tf.data.AUTOTUNE).cache()
        if shuffle:
            ds = ds.shuffle(65536, seed=hp.seed, reshuffle_each_iteration=True)
        parse = lambda x: (lambda f: (f, f.pop(F.LABEL)))(tf.io.parse_example(x, spec))  # noqa: E731
        return ds.batch(hp.batch_size).map(parse, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)

    tables = load_tables(newest(f"BaselineTrainer/model/*/{F.SERVING_FORMAT}"))
    sizes = {name: transform.vocabulary_size_by_name(name) for name in VOCABULARIES}
    model = build_model(sizes, hp, tables.mu, tables if hp.residual else None)
    epochs = info["timing"]["epochs_run"]
    started = time.perf_counter()
    model.fit(records(F.TRAIN_SPLIT, True), validation_data=records(F.EVAL_SPLIT, False), epochs=epochs, verbose=0)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "epochs": epochs, "rows": info["timing"]["train_rows"],
            "batch_size": hp.batch_size, "trainer": info["timing"]}


def exponent(rows: list[float], seconds: list[float]) -> float:
    """b in seconds ~ rows^b, least squares on the logs (nan with fewer than two sizes)."""
    if len(rows) < 2 or min(seconds) <= 0:
        return float("nan")
    return float(np.polyfit(np.log(rows), np.log(seconds), 1)[0])


def _rows(result: dict) -> int:
    counts = result["data"]["counts"]
    return sum(counts["pairs_per_split"].values()) + sum(counts["singles_per_split"].values())


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{platform.node()}, {os.cpu_count()} cores ({cpu}), {psutil.virtual_memory().total / 2**30:.0f} GiB, "
            f"Python {platform.python_version()}, CPU only")


def render(results: dict[str, dict], extras: dict, command: str, minutes: float) -> str:
    sizes = list(results)
    labels = [LABEL[s] for s in sizes]
    rows = [_rows(results[s]) for s in sizes]
    largest = results[sizes[-1]]
    out = [f"## Scale: the whole pipeline at {', '.join(labels)} of ML-1M's size", "",
           f"`{command}`, commit {benchmarks_page.commit()}, {datetime.date.today()}, {_machine()}; nothing else ran on the machine unless said "
           f"below. The embedded synthetic data at ML-1M's catalogue (3,706 movies) with "
           f"{', '.join(f'{LABEL[s]} of its 6,040 users' for s in sizes)}; every pipeline run from nothing "
           f"(`--no-cache`, a new work folder). Peak RSS: the run's whole process tree, sampled every 0.2 s. "
           f"Whole benchmark: {minutes:.1f} min.", "",
           "| size | ratings | prepared rows | wall time | peak RSS | test RMSE rating model / SVD++ (all) | blessed |",
           "|---|---:|---:|---:|---:|---:|---|"]
    for s, n in zip(sizes, rows):
        r = results[s]["pipeline"]
        rmse = {who: r["rmse"][who].get("all", float("nan")) for who in ("candidate", "baseline")}
        out.append(f"| {LABEL[s]} | {results[s]['data']['ratings']:,} | {n:,} | {r['wall'] / 60:.1f} min "
                   f"({r['wall']:.0f} s) | {r['peak_rss_mb'] / 1024:.1f} GB | "
                   f"{rmse['candidate']:.4f} / {rmse['baseline']:.4f} | "
                   f"{'yes' if r['blessed'] else 'no'} |")
    out += ["", "### Per component (seconds; rows per second and peak RSS at the largest size)", "",
            "| component | " + " | ".join(labels) + f" | rows/s ({labels[-1]}) | exponent b (s ~ rows^b) | "
            f"peak RSS MB ({labels[-1]}) |", "|---|" + "---:|" * (len(sizes) + 3)]
    for name, last in largest["pipeline"]["components"].items():
        if name in QUIET:
            continue
        secs = [results[s]["pipeline"]["components"].get(name, {}).get("seconds", float("nan")) for s in sizes]
        out.append(f"| {name} | " + " | ".join(f"{x:.0f}" for x in secs) +
                   f" | {rows[-1] / max(secs[-1], 1e-9):,.0f} | {exponent(rows, secs):.2f} | {last['peak_rss_mb']:,.0f} |")
    quiet = sum(largest["pipeline"]["components"].get(n, {}).get("seconds", 0.0) for n in QUIET)
    out.append(f"| the rest ({', '.join(QUIET)}) | " + " | " * (len(sizes) - 1) + f"{quiet:.0f} | | | |")
    out += ["", "### Data stage steps (`python -m bench.data_stage`, in-process; peak RSS is the high-water mark)", "",
            "| step | " + " | ".join(labels) + " | exponent b | peak RSS MB (" + labels[-1] + ") |",
            "|---|" + "---:|" * (len(sizes) + 2)]
    for i, step in enumerate(largest["data"]["steps"]):
        secs = [results[s]["data"]["steps"][i]["seconds"] for s in sizes]
        out.append(f"| {step['step']} | " + " | ".join(f"{x:.1f}" for x in secs) +
                   f" | {exponent(rows, secs):.2f} | {step['peak_rss_mb']:,.0f} |")
    if "rerun" in extras:
        r = extras["rerun"]
        states = r["components"]
        executed = [n for n, c in states.items() if c["state"] == "COMPLETE" and n not in QUIET and "data" not in n]
        cached = [n for n, c in states.items() if c["state"] == "CACHED"]
        out += ["", f"### Model-only re-run ({labels[-1]})", "",
                f"The project copied with one changed line in `trainer_fn/model.py`, run again on the same work "
                f"folder: {r['wall']:.0f} s ({r['wall'] / 60:.1f} min) against {largest['pipeline']['wall']:.0f} s "
                f"from nothing. Re-executed: {', '.join(executed)}. From the cache: {', '.join(cached)}."]
    if "plain" in extras:
        p = extras["plain"]
        t = p["trainer"]
        work = p["rows"] * p["epochs"]
        trainer_wall = largest["pipeline"]["components"]["Trainer"]["seconds"]
        out += ["", f"### Trainer against a plain tf.data loop ({labels[-1]})", "",
                f"The same Keras model (same hyperparameters, SVD++ tables, batch {p['batch_size']}, "
                f"{p['epochs']} epochs, the number the Trainer ran before early stopping) on the same transformed "
                f"records: TFRecordDataset, cache, shuffle, batch, parse_example, model.fit with the eval split.", "",
                "| | seconds | training rows/s | ratio to the plain loop |", "|---|---:|---:|---:|",
                f"| plain tf.data loop (fit) | {p['seconds']:.0f} | {work / p['seconds']:,.0f} | 1.00 |",
                f"| Trainer, model.fit alone | {t['fit_seconds']:.0f} | {work / t['fit_seconds']:,.0f} | "
                f"{t['fit_seconds'] / p['seconds']:.2f} |",
                f"| Trainer component (reading, fit, recency fit, saving) | {trainer_wall:.0f} | "
                f"{work / trainer_wall:,.0f} | {trainer_wall / p['seconds']:.2f} |"]
    if "seed" in extras:
        s, size = extras["seed"], extras["seed_size"]
        own = results[size]["pipeline"]["rmse"]
        out += ["", f"### The seed's training setup ({LABEL[size]})", "",
                "| training setup | test RMSE all | pair | single | Trainer seconds |", "|---|---:|---:|---:|---:|"]
        for name, r in (("default", results[size]["pipeline"]), ("--preset seed (model-only re-run)", s)):
            rm = r["rmse"] if r is s else own
            out.append(f"| {name} | " + " | ".join(f"{rm['candidate'].get(k, float('nan')):.4f}"
                                                   for k in ("all", "pair", "single")) +
                       f" | {r['components']['Trainer']['seconds']:.0f} |")
    return "\n".join(out)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work-dir", default=DEFAULT_WORK_DIR, help="it writes under <work-dir>/bench/scale")
    p.add_argument("--quick", action="store_true", help="0.03x and 0.1x only (a few minutes)")
    p.add_argument("--sizes", nargs="+", choices=sorted(LABEL), help="instead of the default sizes")
    p.add_argument("--no-write", action="store_true", help="print the section instead of writing BENCHMARKS.md")
    args = p.parse_args(argv)
    sizes = args.sizes or (QUICK if args.quick else FULL)
    bench = WorkLayout.at(args.work_dir).bench / "scale"
    bench.mkdir(parents=True, exist_ok=True)
    started = time.time()
    results, extras = {}, {}
    with open(bench / "runs.log", "w") as log:
        print(f"make bench: output of every step in {log.name}", flush=True)
        for size in sizes:
            print(f"{LABEL[size]}: data stage steps ...", flush=True)
            data = data_stage(size, args.work_dir, bench / f"data-{size}.json", log)
            work = bench / f"work-{size}"
            shutil.rmtree(work, ignore_errors=True)
            print(f"{LABEL[size]}: pipeline from nothing ...", flush=True)
            results[size] = {"data": data, "pipeline": run_pipeline(work, data["raw"], ["--no-cache"], log)}
            print(f"{LABEL[size]}: {results[size]['pipeline']['wall']:.0f} s", flush=True)
        largest, smallest = sizes[-1], sizes[0]
        print(f"{LABEL[largest]}: model-only re-run ...", flush=True)
        extras["rerun"] = model_only_rerun(bench / f"work-{largest}", results[largest]["data"]["raw"],
                                           bench / "project-copy", log)
        print(f"{LABEL[largest]}: plain tf.data loop ...", flush=True)
        extras["plain"] = plain_loop(Path(results[largest]["pipeline"]["pipeline_root"]),
                                     results[largest]["pipeline"]["trainer_model_run"])
        print(f"{LABEL[smallest]}: --preset seed (model-only re-run) ...", flush=True)
        extras["seed_size"] = smallest
        extras["seed"] = run_pipeline(bench / f"work-{smallest}", results[smallest]["data"]["raw"],
                                      ["--preset", "seed"], log)
    (bench / "results.json").write_text(json.dumps({"results": results, "extras": extras}, indent=2, default=str))
    command = "make bench" + (" ARGS=--quick" if args.quick else "") if not args.sizes else \
        f"python -m bench.scale --sizes {' '.join(sizes)}"
    text = render(results, extras, command, (time.time() - started) / 60)
    if args.no_write:
        print(text)
    else:
        section = "scale-quick" if args.quick else "scale"
        benchmarks_page.write_section(PROJECT_ROOT / benchmarks_page.PAGE, section, text)
        print(text)
        print(f"\nwritten: section {section} of {PROJECT_ROOT / benchmarks_page.PAGE}")


if __name__ == "__main__":
    main()
