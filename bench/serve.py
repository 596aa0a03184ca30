"""Latency and throughput of the recommendation service on 127.0.0.1.

    python -m bench.serve --work-dir work [--prepared DIR] [--seconds 15] [--all-movies]

Starts `python -m serving.serve` on a free 127.0.0.1 port (the newest pushed model; the
prepared tables of --prepared when given), waits for the model, sends warm-up requests,
then for 1 and 8 concurrent clients sends GET /v1/recommendations?n=10 (random known
pairs) for --seconds each, and prints p50/p99 latency and requests per second. The service
gets --popular/--near (its candidate retrieval, the default) or --all-movies (every unseen
movie scored); --compare-all-movies measures a second service with --all-movies after it.
Only 127.0.0.1 is contacted. --write puts the table into BENCHMARKS.md's serving section.

--soak N instead sends N requests from 8 clients, one in JUNK_EVERY of them hostile (odd
ids, a NaN rating, a body that is not JSON, an oversized body), and prints the service's
RSS every N/20 requests, the statuses it answered and whether any was a 5xx; --write puts
that into BENCHMARKS.md's soak section.
"""

import argparse
import datetime
import http.client
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bench import page as benchmarks_page
from serving import recommend as R
from serving.serve import BATCH_WAIT_MS, SCORING_THREADS
from common.layout import DEFAULT_WORK_DIR, WorkLayout

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def get(connection: http.client.HTTPConnection, path: str) -> tuple[int, bytes]:
    connection.request("GET", path)
    response = connection.getresponse()
    return response.status, response.read()


def wait_for_model(port: int, process: subprocess.Popen, timeout: float = 300) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            said = process.stdout.read() if process.stdout else ""
            raise RuntimeError(f"the service exited before it was ready{': ' + said if said else ''}")
        try:
            connection = http.client.HTTPConnection(HOST, port, timeout=5)
            status, body = get(connection, "/healthz")
            if status == 200 and json.loads(body)["model_loaded"]:
                return json.loads(get(connection, "/v1/model")[1])
        except OSError:
            pass
        time.sleep(1)
    raise TimeoutError(f"no model loaded after {timeout:.0f} s")


def load(port: int, pairs: list[tuple[int, int]], clients: int, seconds: float, n: int) -> dict:
    latencies, errors = [], []
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def client(index: int):
        connection = http.client.HTTPConnection(HOST, port, timeout=60)
        i = index
        mine, failed = [], 0
        while time.perf_counter() < stop_at:
            a, b = pairs[i % len(pairs)]
            i += clients
            start = time.perf_counter()
            status, _ = get(connection, f"/v1/recommendations?users={a},{b}&n={n}")
            mine.append(time.perf_counter() - start)
            failed += status != 200
        with lock:
            latencies.extend(mine)
            errors.append(failed)

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    ms = np.array(latencies) * 1000
    return {"clients": clients, "requests": len(ms), "failed": int(sum(errors)), "seconds": round(elapsed, 1),
            "p50_ms": round(float(np.percentile(ms, 50)), 1), "p99_ms": round(float(np.percentile(ms, 99)), 1),
            "rps": round(len(ms) / elapsed, 1)}


JUNK_EVERY = 20
JUNK = [("GET", "/v1/recommendations?users=" + "9" * 5000, None, None),
        ("GET", "/v1/recommendations?users=%C2%B2", None, None),
        ("GET", "/v1/predict?users=--1&movie=1", None, None),
        ("POST", "/v1/recommendations", "application/json",
         b'{"members": [{"user": 1, "ratings": [{"movie": 1, "rating": NaN}]}]}'),
        ("POST", "/v1/recommendations", "text/plain", b'{"members": [{"user": 1}]}'),
        ("POST", "/v1/recommendations", "application/json", b'{"members": [{"sex": "' + b"x" * 200_000 + b'"}]}'),
        ("GET", "/v1/recommendations?users=1700000", None, None)]


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, MB."""
    import psutil

    process = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [process, *process.children(recursive=True)]) / 2**20


def soak(port: int, pid: int, pairs: list[tuple[int, int]], requests: int, clients: int = 8) -> dict:
    """`requests` requests from `clients` threads, every JUNK_EVERY-th hostile; RSS sampled."""
    counter = iter(range(requests))
    lock = threading.Lock()
    statuses: dict[int, int] = {}
    samples = [(0, round(rss_mb(pid), 1))]
    step = max(requests // 20, 1)

    def client():
        connection = http.client.HTTPConnection(HOST, port, timeout=60)
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            if i % JUNK_EVERY == JUNK_EVERY - 1:
                method, path, media, body = JUNK[(i // JUNK_EVERY) % len(JUNK)]
                headers = {"Content-Type": media} if media else {}
                try:
                    connection.request(method, path, body=body, headers=headers)
                    response = connection.getresponse()
                    status = response.status
                    response.read()
                except (OSError, http.client.HTTPException):
                    status = 0
                    connection = http.client.HTTPConnection(HOST, port, timeout=60)
            else:
                a, b = pairs[i % len(pairs)]
                status, _ = get(connection, f"/v1/recommendations?users={a},{b}&n=10")
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
                if (i + 1) % step == 0:
                    samples.append((i + 1, round(rss_mb(pid), 1)))

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"requests": requests, "clients": clients, "seconds": round(time.perf_counter() - started, 1),
            "statuses": dict(sorted(statuses.items())), "server_errors": sum(n for s, n in statuses.items() if s >= 500),
            "rss_mb": sorted(samples)}


def soak_section(result: dict, model: dict, prepared: Path, command: str) -> str:
    rss = result["rss_mb"]
    lines = ["## Service soak", "",
             f"{result['requests']} requests from {result['clients']} clients on 127.0.0.1, commit {benchmarks_page.commit()}, {datetime.date.today()}, "
             f"{os.cpu_count()} CPUs, model {model['version']}, tables of `{prepared.name}`; one in {JUNK_EVERY} "
             f"hostile (5,000-digit, superscript and double-minus ids, a NaN rating, a text/plain body, a 200 kB "
             f"body, an unknown user). {result['seconds']:g} s. `{command}`", "",
             f"Statuses: {', '.join(f'{s}: {n}' for s, n in result['statuses'].items())}; 5xx: "
             f"{result['server_errors']}.", "", "| requests sent | service RSS MB |", "|---:|---:|"]
    lines += [f"| {n} | {mb} |" for n, mb in rss]
    first_half = [mb for n, mb in rss if n <= result["requests"] // 2]
    lines += ["", f"RSS grew {rss[-1][1] - rss[0][1]:+.0f} MB in all, {rss[-1][1] - first_half[-1]:+.0f} MB "
                  f"over the second half."]
    return "\n".join(lines)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.serve", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work-dir", default=DEFAULT_WORK_DIR, help="the work folder whose pushed model is served (default %(default)s)")
    p.add_argument("--prepared", help="prepared tables for the service (default: the pushing run's)")
    p.add_argument("--seconds", type=float, default=15.0, help="per concurrency level")
    p.add_argument("--clients", type=int, nargs="+", default=[1, 8], help="concurrent clients, one level each (default %(default)s)")
    p.add_argument("--workers", type=int, nargs="+", default=[1],
                   help="the service's worker processes (its --workers), one service each in turn")
    p.add_argument("--scoring-threads", type=int, nargs="+", default=[0],
                   help="the service's --scoring-threads, one service each in turn (0: its default)")
    p.add_argument("--batch-wait-ms", type=float, nargs="+", default=[BATCH_WAIT_MS],
                   help="the service's --batch-wait-ms (its micro-batcher; 0: off), one service each in turn")
    p.add_argument("--n", type=int, default=10, help="the n of each request (default %(default)s)")
    p.add_argument("--warmup", type=int, default=20, help="requests before measuring")
    p.add_argument("--write", action="store_true", help="write the table into BENCHMARKS.md")
    R.add_retrieval_args(p)
    p.add_argument("--compare-all-movies", action="store_true",
                   help="then measure a second service that scores every unseen movie")
    p.add_argument("--soak", type=int, metavar="N", help="instead: N requests, some hostile, with the RSS over time")
    args = p.parse_args(argv)
    retrieval = R.retrieval_from_args(args)
    work = WorkLayout.at(args.work_dir)
    command = " ".join(["python -m bench.serve", *(sys.argv[1:] if argv is None else argv)])
    if args.soak:
        args.clients = []
        model, prepared, _, _, result = measure(work, args, retrieval, soak_requests=args.soak,
                                                workers=args.workers[0])
        text = soak_section(result, model, prepared, command)
        print(text)
        if args.write:
            benchmarks_page.write_section(benchmarks_page.PAGE, "soak", text)
        return
    lines = []
    configs = [retrieval] + ([None] if args.compare_all_movies and retrieval is not None else [])
    for config, workers, threads, wait in [(c, w, t, b) for c in configs for w in args.workers
                                           for t in args.scoring_threads for b in args.batch_wait_ms]:
        model, prepared, candidates, results, _ = measure(work, args, config, workers=workers, threads=threads,
                                                          batch_wait_ms=wait)
        if not lines:
            movies = len(pd.read_csv(prepared / "movies.csv"))
            lines = ["## Serving latency", "",
                     f"Service latency on 127.0.0.1, {datetime.date.today()}, {os.cpu_count()} CPUs: model "
                     f"{model['version']}, tables of `{prepared.name}` ({movies} movies), GET "
                     f"/v1/recommendations n={args.n} for random known pairs, {args.seconds:g} s per level after "
                     f"{args.warmup} warm-up requests; candidates: the mean count scored in the warm-up requests; "
                     f"batch wait: the micro-batcher's bound (0: off). Commit {benchmarks_page.commit()}, {platform.machine()}. "
                     f"`{command}`", "",
                     "| movies scored | candidates | worker processes | scoring threads | batch wait ms | concurrent "
                     "clients | requests | failed | p50 ms | p99 ms | requests/s |",
                     "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        scored = ("every unseen movie" if config is None else
                  f"the {config.popular + config.near} unseen of highest watch score (the pair ranker)")
        lines += [f"| {scored} | {candidates:.0f} | {workers} | {threads or SCORING_THREADS} | {wait:g} | {r['clients']} | "
                  f"{r['requests']} | {r['failed']} | "
                  f"{r['p50_ms']} | {r['p99_ms']} | {r['rps']} |" for r in results]
    print("\n".join(lines))
    if args.write:
        benchmarks_page.write_section(benchmarks_page.PAGE, "serving", "\n".join(lines))


def measure(work: WorkLayout, args, retrieval: R.Retrieval | None, soak_requests: int = 0, workers: int = 1,
            threads: int = 0, batch_wait_ms: float = BATCH_WAIT_MS):
    """Starts the service with these candidates, warms it up, loads it at each --clients
    level, then soaks it with soak_requests: (its /v1/model, the prepared tables, mean candidates
    a request, one result a level, the soak's result or None)."""
    port = free_port()
    command = [sys.executable, "-m", "serving.serve", "--work-dir", str(work.root), "--host", HOST,
               "--port", str(port)] + (["--prepared", args.prepared] if args.prepared else [])
    command += (["--all-movies"] if retrieval is None else
                ["--popular", str(retrieval.popular), "--near", str(retrieval.near)])
    command += ["--workers", str(workers), "--batch-wait-ms", f"{batch_wait_ms:g}"]
    command += ["--scoring-threads", str(threads)] if threads else []
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    try:
        model = wait_for_model(port, process)
        prepared = Path(args.prepared) if args.prepared else work.prepared / model["data"]
        users = pd.read_csv(prepared / "users.csv")["user_id"].to_numpy()
        rng = np.random.default_rng(0)
        pairs = [tuple(int(u) for u in rng.choice(users, 2, replace=False)) for _ in range(500)]
        connection = http.client.HTTPConnection(HOST, port, timeout=60)
        candidates = []
        for a, b in pairs[:args.warmup]:
            status, body = get(connection, f"/v1/recommendations?users={a},{b}&n={args.n}")
            if status != 200:
                raise RuntimeError(f"warm-up request failed: {status} {body[:300]!r}")
            candidates.append(json.loads(body)["candidates"])
        results = []
        for clients in args.clients:
            results.append(load(port, pairs, clients, args.seconds, args.n))
            print(results[-1], flush=True)
        soaked = soak(port, process.pid, pairs, soak_requests) if soak_requests else None
        return model, prepared, float(np.mean(candidates)), results, soaked
    finally:
        stop(process)


def stop(process: subprocess.Popen) -> None:
    """Stops a service started in a session of its own: SIGINT, then SIGKILL after 30 s."""
    os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


if __name__ == "__main__":
    main()
