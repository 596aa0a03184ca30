"""The recommendation service: FastAPI on uvicorn, the newest pushed model, hot-swapped.

    make serve                 # http://127.0.0.1:8000, OpenAPI docs at /docs
    make serve PORT=8080
    python -m serving.serve --work-dir work --port 8000 [--prepared DIR] [--poll 2]
                             [--popular 100 --near 300 | --all-movies]

The service loads the newest version under <work>/serving_model/ with the prepared tables
(movies, users, ratings) of the data the run that pushed it read (found in MLMD; the
newest prepared folder if MLMD does not say), and polls the serving folder: a newly pushed
version is loaded and warmed up beside the current one, then swapped in with one
assignment; a request keeps the version it started with, so none fails during a switch.
How a version ranks comes from its folder itself (assets.extra/ranking.json and ease.npz,
serving/version_files.py), so a copy of a version serves the same anywhere; a version
pushed with --no-ranking says it ranks by the predicted rating alone, and every answer says
which ("ranker"); a version without these files is refused, never served with defaults. A
version that fails to load is logged once, listed in /v1/model and tried again only when its
folder changes. Candidates (with the pair ranker, the unseen movies of highest watch score;
for a rating-only version, the most rated unseen movies and those nearest the members'
histories in the model's movie embedding; or every unseen movie), scoring, ranking and
reasons are serving/recommend.py's, the code the CLI runs. Every error
is {"error": {"code", "message"}} (serving/errors.py); response bodies are
serving/schemas.py's models, so /openapi.json describes each.
"""


import argparse
import dataclasses
import datetime as dt
import json
import logging
import os
import re
import threading
import time
from pathlib import Path

from common.layout import DEFAULT_WORK_DIR, WorkLayout
from serving import errors as E
from serving import recommend as R
from serving import version_files as V
from transform_fn import features as F

log = logging.getLogger("serving.serve")
SETTLE_SECONDS = 2.0      # a version folder is loaded once nothing in it changed for this long
# What any path can answer besides its own errors (serving/errors.py CODES).
ANY_PATH_ERRORS = (400, 405, 500, 503)
NO_MODEL = ("no pushed model yet: run `make run` until a model passes the blessing gate "
            "(on the tiny data, for development: make run SIZE=tiny ARGS=\"--force-push\"); "
            "the service picks it up without a restart")


# The micro-batcher's bounded wait (serving/batching.py); 0: off. Off by default: on 2 cores
# with 2 scoring threads it joined at most 2 requests and cost more than it saved (ML-100K,
# bench.serve, 2026-12-07: p99 at 8 clients 919 ms with 2 ms against 679 ms off; BENCHMARKS.md).
BATCH_WAIT_MS = 0.0


@dataclasses.dataclass(frozen=True)
class ServingState:
    """One loaded version: everything a request needs, swapped as a whole."""
    version: str
    model_dir: Path
    scorer: R.Scorer
    tables: R.Tables
    info: dict
    ranking: dict | None = None      # the ranking evaluation the version carries (version_files.ranking_summary)

    @property
    def ranker(self) -> str:
        """What its lists are ranked by, as every answer says it."""
        return V.PAIR_RANKER if self.tables.ranker is not None else V.RATING_ONLY


@dataclasses.dataclass(frozen=True)
class FailedLoad:
    """A version that failed to load, and its folder as it was then: it is tried again only
    when the folder changes."""
    version: str
    folder: tuple          # folder_state's (files, bytes, newest mtime)
    error: str             # for answers: no file-system path
    failed_at: str

    def public(self) -> dict:
        return {"version": self.version, "error": self.error, "failed_at": self.failed_at}


def model_info(work: WorkLayout, model_dir: Path) -> dict:
    """What MLMD says about a pushed version: the run, the prepared data it read, its
    evaluation's RMSE. Empty where MLMD has no record (a folder copied by hand). Nothing the
    version serves with comes from here: its ranker settings are in the version folder."""
    info: dict = {}
    try:
        from pipeline import runs as summary

        if not work.metadata.exists():
            return info
        run = summary.pushing_run(str(work.metadata), F.PIPELINE_NAME, str(model_dir))
        if run is None:
            return info
        info["run_id"] = run.run_id
        example_gen = run.components.get("CsvExampleGen")
        if example_gen and example_gen.properties.get("input_base"):
            info["prepared"] = str(example_gen.properties["input_base"])
        evaluation = run.output("Evaluator", "evaluation")
        if evaluation is not None:
            metrics = summary.overall_metrics(evaluation.uri)
            info["rmse"] = {name: values.get("root_mean_squared_error") for name, values in metrics.items()}
            info["rmse_split"] = F.TEST_SPLIT
        pushed = run.output("Pusher", "pushed_model")
        if pushed is not None:
            info["pushed_at"] = _iso(pushed.create_time_since_epoch / 1000.0)
    except Exception as error:   # the model still serves; /v1/model says what is missing
        log.warning("no MLMD record for %s: %s", model_dir, error)
        info["mlmd_error"] = f"{type(error).__name__}: {error}"
    return info


def _iso(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).isoformat(timespec="seconds")


def folder_state(folder: Path) -> tuple[int, int, float]:
    """(files, bytes, newest mtime) of everything under folder: what tells that it changed."""
    files, size, newest = 0, 0, folder.stat().st_mtime
    for path in folder.rglob("*"):
        stat = path.stat()
        newest = max(newest, stat.st_mtime)
        if path.is_file():
            files, size = files + 1, size + stat.st_size
    return files, size, newest


def _settled(folder: Path, settle: float) -> bool:
    return time.time() - folder_state(folder)[2] >= settle


class ModelWatcher:
    """Holds the current ServingState and replaces it when a newer version is pushed.

    The newest version that loads is served. A version that fails to load is logged once,
    listed in failed_versions() (/v1/model, /readyz) and tried again only when its folder
    changes (files, bytes or a modification time), not at every poll."""

    def __init__(self, work_dir: str | os.PathLike, prepared: str | os.PathLike | None = None,
                 poll_seconds: float = 2.0, settle_seconds: float = SETTLE_SECONDS,
                 retrieval: R.Retrieval | None = R.DEFAULT_RETRIEVAL, batch_wait_ms: float = BATCH_WAIT_MS):
        self.work = WorkLayout.at(work_dir)
        self.retrieval = retrieval              # None: every unseen movie is scored
        self.batch_wait_ms = batch_wait_ms      # concurrent requests' model calls joined (serving/batching.py)
        self.prepared = Path(prepared).resolve() if prepared else None
        self.poll_seconds = poll_seconds
        self.settle_seconds = settle_seconds
        self.current: ServingState | None = None
        self.last_error: str | None = None      # the last load failure, as logged
        self.failed: dict[str, FailedLoad] = {}
        self._tables: dict[tuple, R.Tables] = {}    # (prepared folder, ranker settings, EASE file) -> tables
        self._lock = threading.Lock()            # one load at a time; requests never take it
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def newest(self) -> Path | None:
        versions = [v for v in R.model_versions(self.work.serving_model) if _settled(v, self.settle_seconds)]
        return versions[-1] if versions else None

    def failed_versions(self) -> list[dict]:
        return [f.public() for f in sorted(self.failed.values(), key=lambda f: int(f.version))]

    def refresh(self) -> bool:
        """Load the newest settled version that loads, if it is not the current one; True if
        swapped. Versions that failed with their folder unchanged since are passed over."""
        with self._lock:
            versions = R.model_versions(self.work.serving_model)
            present = {v.name for v in versions}
            self.failed = {name: f for name, f in self.failed.items() if name in present}
            for folder in reversed(versions):
                if self.current is not None and folder == self.current.model_dir:
                    return False
                try:
                    state = folder_state(folder)
                except OSError:                  # removed meanwhile
                    continue
                if time.time() - state[2] < self.settle_seconds:
                    continue                     # still being written
                failed = self.failed.get(folder.name)
                if failed is not None and failed.folder == state:
                    continue                     # reported already; tried again when the folder changes
                try:
                    loaded = self.load(folder)
                except Exception as error:      # keep serving the current version
                    self.last_error = f"loading {folder}: {type(error).__name__}: {error}"
                    log.error("model version %s failed to load (tried again when its folder changes): %s",
                              folder.name, self.last_error)
                    public = E.without_paths(f"{type(error).__name__}: {error}".replace(str(folder),
                                                                                      f"version {folder.name}"))
                    # copy on write: requests read self.failed while this thread changes it
                    self.failed = {**self.failed, folder.name: FailedLoad(folder.name, state, public,
                                                                          _iso(time.time()))}
                    continue
                self.failed = {name: f for name, f in self.failed.items() if name != folder.name}
                self.current = loaded            # the swap: one reference assignment
                self.last_error = None
                # Tables of versions no longer served go (the requests still holding one keep it).
                self._tables = {k: t for k, t in self._tables.items() if t is loaded.tables}
                log.info("serving model version %s (prepared data %s; ranked by the %s)", loaded.version,
                         loaded.tables.prepared, loaded.ranker)
                return True
            return False

    def info_of(self, model_dir: Path) -> dict:
        """MLMD's record of the version (model_info): the run, its data, its RMSE."""
        return model_info(self.work, model_dir)

    def scorer_of(self, model_dir: Path):
        return R.Scorer(model_dir, batch_wait_s=self.batch_wait_ms / 1000.0)

    def tables_for(self, prepared: Path, params, ease=None, ease_ratings: str | None = None,
                   ease_file: str | None = None) -> R.Tables:
        """One Tables per (data, ranker settings, EASE matrix: its file's digest): a version with
        other settings or another matrix gets its own, so the version still serving is never
        changed under its requests."""
        key = (prepared, params, ease_file)
        tables = self._tables.get(key)
        if tables is None:
            tables = R.Tables(prepared)
            if params is not None:
                tables.use_ranker(params, ease)
                warning = V.fitted_elsewhere(ease_ratings, tables.ratings, prepared.name)
                if warning:
                    log.warning(warning)
            self._tables[key] = tables
        return tables

    def load(self, model_dir: Path) -> ServingState:
        # How the version ranks travels with it (assets.extra/: ranking.json, and ease.npz
        # when it ranks with the pair ranker), so a copy of it serves the same anywhere; a
        # version without them is refused (BadVersionFile), never served with defaults.
        ranking = V.read_ranking(model_dir)
        params = V.ranker_params(ranking)
        ease, ease_ratings, ease_file = V.read_ease(model_dir, params)
        info = self.info_of(model_dir)
        prepared = self.prepared or (Path(info["prepared"]) if info.get("prepared") else None)
        if prepared is None or not (prepared / "movies.csv").exists():
            prepared = self.work.latest_prepared()
        tables = self.tables_for(prepared, params, ease, ease_ratings, ease_file)
        scorer = self.scorer_of(model_dir)
        # Warm-up: trace and run the signature once before the first request sees it.
        users = list(tables.users.index[:2])
        if users:
            members = [tables.member(int(u)) for u in users]
            R.score_pair(scorer, tables, members[0], members[-1], movies=tables.movies.head(64))
        info = {**info, "prepared": str(prepared), "loaded_at": _iso(time.time())}
        info.setdefault("pushed_at", _iso(model_dir.stat().st_mtime))
        if ranking is not None and ranking.get("data") not in (None, prepared.name):
            log.warning("model version %s was ranking-evaluated on data %r and serves data %r", model_dir.name,
                        ranking.get("data"), prepared.name)
        if params is None:
            log.warning("model version %s ranks by the predicted rating alone (%s: %s), and every answer says "
                        "\"ranker\": \"%s\"", model_dir.name, V.RANKING_PATH, ranking.get("why"), V.RATING_ONLY)
        return ServingState(model_dir.name, model_dir, scorer, tables, info, V.ranking_summary(ranking))

    def start(self) -> None:
        self.refresh()
        self._thread = threading.Thread(target=self._poll, name="model-watcher", daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.refresh()
            except Exception as error:      # never let the watcher die
                log.error("model watcher: %s", error)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


MAX_USERS_CHARS = 40           # "A,B" of two 9-digit ids with room to spare
USER_ID = re.compile(r"[0-9]{1,9}")   # ASCII digits only: no sign, no '²', no 5,000 digits
ECHO_CHARS = 40                # how much of a bad value an error message repeats


def _echo(value) -> str:
    text = repr(value)
    return text if len(text) <= ECHO_CHARS else text[:ECHO_CHARS] + "..."


def parse_users(users: str) -> list[int]:
    """'A', 'A,B' or 'A,A' as one or two distinct ids; ValueError saying what is wrong."""
    if len(users) > MAX_USERS_CHARS:
        raise ValueError(f"users must be one or two comma-separated ids (at most {MAX_USERS_CHARS} characters), "
                         f"got {len(users)} characters")
    parts = [p.strip() for p in users.split(",")]
    if not 1 <= len(parts) <= 2 or not all(parts):
        raise ValueError(f"users must be one or two comma-separated ids, got {_echo(users)}")
    bad = [p for p in parts if not USER_ID.fullmatch(p)]
    if bad:
        raise ValueError(f"user ids are whole numbers of 1 to 9 digits, got {', '.join(map(_echo, bad))}")
    return list(dict.fromkeys(int(p) for p in parts))     # the same id twice: one person


def validation_errors(errors) -> list[dict]:
    """FastAPI's validation errors without the offending input (which may be megabytes long,
    or a NaN that JSON cannot carry): where, what, and the error's type, each bounded."""
    out = []
    for error in list(errors)[:10]:
        out.append({"loc": [part if isinstance(part, int) else str(part)[:ECHO_CHARS] for part in error.get("loc", ())],
                    "msg": str(error.get("msg", ""))[:200], "type": str(error.get("type", ""))[:60]})
    return out


def fingerprint(path: Path) -> str | None:
    """The first 16 hex digits of a file's SHA-256, None if it cannot be read."""
    import hashlib

    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    except OSError:
        return None


def model_summary(s: ServingState, failed_versions: list[dict] = ()) -> dict:
    """What /v1/model shows: versions, data names and fingerprints, never a file-system path."""
    info = s.info
    params = s.tables.ranker.params if s.tables.ranker is not None else None
    return {"version": s.version, "run_id": info.get("run_id"), "data": s.tables.prepared.name,
            "data_fingerprint": fingerprint(s.tables.prepared / F.MANIFEST_FILE),
            "model_fingerprint": fingerprint(s.model_dir / "saved_model.pb"),
            "rmse": info.get("rmse"), "rmse_split": info.get("rmse_split"),
            "pushed_at": info.get("pushed_at"), "loaded_at": info.get("loaded_at"),
            "mlmd": "read" if "mlmd_error" not in info else "unavailable",
            "has_attention": s.scorer.has_attention,
            # the pair ranker's settings, chosen on eval by the model's run and carried by the
            # version folder (serving/version_files.py); "rating only" where it says so
            "ranker": s.ranker, "ranker_settings": dataclasses.asdict(params) if params is not None else None,
            "ranking_check": s.ranking, "failed_versions": list(failed_versions)}


def version_message(watcher: ModelWatcher, version: str, served: str) -> str:
    """Why ?version=N is not answered: the service answers with the version it serves only."""
    name = str(int(version))
    failed = watcher.failed.get(name)
    if failed is not None:
        return f"version {name} failed to load ({failed.error}); this service serves version {served}"
    present = {v.name for v in R.model_versions(watcher.work.serving_model)}
    if name not in present:
        return f"no version {name} has been pushed; this service serves version {served}"
    if int(name) < int(served):
        return (f"version {name} is older than the version this service serves ({served}): it serves only the "
                f"newest version that loads")
    return f"version {name} is not loaded yet; this service serves version {served}"


def create_app(work_dir: str | os.PathLike = DEFAULT_WORK_DIR, prepared: str | os.PathLike | None = None,
               poll_seconds: float = 2.0, watch: bool = True, watcher: ModelWatcher | None = None,
               retrieval: R.Retrieval | None = R.DEFAULT_RETRIEVAL, scoring_threads: int | None = None,
               batch_wait_ms: float | None = None):
    """The FastAPI app. watch=False: no polling thread (tests call app.state.watcher.refresh()).
    scoring_threads: how many requests are scored at once (SCORING_THREADS by default)."""
    from contextlib import asynccontextmanager

    from fastapi import Body, FastAPI, Query, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException as StarletteHTTPException

    from serving import schemas
    from serving.limits import MAX_BODY_BYTES, RequestLimits

    watcher = watcher or ModelWatcher(work_dir, prepared, poll_seconds, retrieval=retrieval,
                                      batch_wait_ms=BATCH_WAIT_MS if batch_wait_ms is None else batch_wait_ms)

    @asynccontextmanager
    async def lifespan(app):
        import anyio

        # Requests are scored on at most SCORING_THREADS worker threads (anyio's default is
        # 40): on a few cores more threads only contend for them, and each thread that
        # scores can keep a malloc arena of its own (our reading of why the RSS grew by
        # about 0.3 GB over the first few thousand requests with 40, then flattened;
        # BENCHMARKS.md's soak section has the RSS over time with these bounds).
        anyio.to_thread.current_default_thread_limiter().total_tokens = scoring_threads or SCORING_THREADS
        await _run_in_thread(watcher.start if watch else watcher.refresh)
        yield
        watcher.stop()

    codes = "; ".join(f"`{code}` ({status}): {when}" for code, (status, when) in E.CODES.items())
    app = FastAPI(title="Movie pair recommender", version="1", lifespan=lifespan, description=(
        "Top-N movies for two people (or one), scored by the newest pushed model of the TFX pipeline. "
        f"Ratings are MovieLens stars, 0.5 to 5. Limits: user ids are 1 to 9 ASCII digits, `users` at most "
        f"{MAX_USERS_CHARS} characters, `n` 1 to {schemas.MAX_N}, at most {schemas.MAX_RATINGS} ratings a member, "
        f"request bodies JSON (415 otherwise) of at most {MAX_BODY_BYTES} bytes (413), the body within "
        f"10 s (408); beyond the concurrency limit a request gets 503 with Retry-After.\n\n"
        "Every 4xx and 5xx answer is `{\"error\": {\"code\": ..., \"message\": ...}}` (ErrorResponse); the "
        f"codes: {codes}.\n\n"
        "`/healthz` is liveness (200 while the process runs); `/readyz` is readiness (503 `no_model` until "
        "a version is loaded). `?version=N` on the recommendation and prediction endpoints pins the answer to version N: "
        "it is answered only while N is the version served (the newest that loaded), else 404 "
        "`unknown_version`. Every answer says what its list is ranked by (`ranker`): the pair ranker with "
        "the settings and EASE matrix the version folder carries, or `rating only` for a version pushed "
        "without a RankingEvaluator (`--no-ranking`), which says so in its folder."))
    app.state.watcher = watcher
    app.add_middleware(RequestLimits)
    app.add_middleware(E.ErrorShape, router=app.router)     # outermost: routes before bounds, one error shape

    def errors(*statuses: int) -> dict:
        """The OpenAPI `responses` of these error statuses and of those any path can answer (a
        malformed head, a method it does not take, a bug, busy): the one shape, the codes each
        can carry."""
        return {status: {"model": schemas.ErrorResponse,
                         "description": "; ".join(f"{code}: {when}" for code, (s, when) in E.CODES.items()
                                                  if s == status)}
                for status in sorted({*statuses, *ANY_PATH_ERRORS})}

    def no_model() -> E.ApiError:
        failed = watcher.failed_versions()
        message = NO_MODEL
        if failed:
            message = (f"no model version loaded: version {', '.join(f['version'] for f in failed)} failed to load "
                       f"(failed_versions says why; the service log has the details); a version is tried again "
                       f"when its folder changes, and a newly pushed one is picked up without a restart")
        return E.ApiError(503, "no_model", message, failed_versions=failed or None)

    def state(version: str | None = None) -> ServingState:
        current = watcher.current
        if current is None:
            raise no_model()
        if version is not None and int(version) != int(current.version):
            raise E.ApiError(404, "unknown_version", version_message(watcher, version, current.version))
        return current

    def users_of(users: str) -> list[int]:
        try:
            return parse_users(users)
        except ValueError as error:
            raise E.ApiError(422, "invalid_request", str(error),
                             errors=[{"loc": ["query", "users"], "msg": str(error), "type": "value_error"}]) from None

    def members_of(s: ServingState, users: list[int]) -> list[R.Member]:
        unknown = [u for u in users if u not in s.tables.users.index]
        if unknown:
            raise E.ApiError(404, "unknown_user", f"unknown user{'s' if len(unknown) > 1 else ''} "
                                                  f"{', '.join(map(str, unknown))}")
        return [s.tables.member(u) for u in users]

    @app.exception_handler(E.ApiError)
    async def api_error(request: Request, error: E.ApiError):
        return JSONResponse(status_code=error.status, content=E.body(error.code, error.message, **error.extra),
                            headers=error.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError):
        found = validation_errors(error.errors())
        message = "invalid request"
        if found:
            first = found[0]
            message = f"invalid {'.'.join(map(str, first['loc']))}: {first['msg']}"
            if len(found) > 1:
                message += f" (and {len(found) - 1} more: see errors)"
        return JSONResponse(status_code=422, content=E.body("invalid_request", message, errors=found))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException):
        return JSONResponse(status_code=error.status_code, content=E.body(E.code_for(error.status_code),
                                                                          str(error.detail)),
                            headers=getattr(error, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception):     # never a traceback in a response
        log.exception("unhandled error on %s", request.url.path)
        return JSONResponse(status_code=500, content=E.body("internal", "internal error (logged by the service)"))

    version_query = Query(None, pattern=r"^[0-9]{1,19}$", examples=["1700000000"],
                          description="answer only with this model version (the one served, /v1/model's "
                                      "`version`); another is 404 unknown_version")

    @app.get("/healthz", summary="Liveness: 200 while the process runs, whether or not a model is loaded",
             response_model=schemas.Health, responses=errors())
    def healthz():
        current = watcher.current
        return {"status": "ok", "model_loaded": current is not None,
                "model_version": current.version if current else None}

    @app.get("/readyz", summary="Readiness: 200 once a model version is loaded, 503 no_model until then",
             response_model=schemas.Ready, responses=errors(503))
    def readyz():
        s = state()
        return {"status": "ready", "model_version": s.version, "ranker": s.ranker}

    @app.get("/v1/model", summary="The served model: version, data and model fingerprints, RMSE from its "
                                  "evaluation, the ranker and its settings, versions that failed to load",
             response_model=schemas.ModelInfo, responses=errors(503))
    def model():
        return model_summary(state(), watcher.failed_versions())

    @app.get("/v1/recommendations", summary="Top-n movies neither user has rated",
             response_model=schemas.Recommendations, responses=errors(404, 422, 503))
    def get_recommendations(
            users: str = Query(..., max_length=MAX_USERS_CHARS * 10,
                               description="'A,B' for a pair, 'A' or 'A,A' for one person (ids of 1 to 9 digits)",
                               examples=["1,2"]),
            n: int = Query(10, ge=1, le=schemas.MAX_N, description="list length"),
            strategy: schemas.Strategy = Query(
                "average", description="average: the pair prediction; least_misery: the lower member prediction"),
            diversify: bool = Query(False, description="maximal-marginal-relevance re-rank for genre diversity"),
            version: str | None = version_query):
        ids = users_of(users)
        s = state(version)
        body = R.recommendations(s.scorer, s.tables, members_of(s, ids), n, strategy, diversify, watcher.retrieval)
        return {"users": ids, "model_version": s.version, "ranker": s.ranker, **body}

    @app.post("/v1/recommendations", summary="Top-n movies for people described by their recent ratings",
              response_model=schemas.Recommendations, responses=errors(404, 408, 413, 415, 422, 503))
    def post_recommendations(request: schemas.RecommendationRequest = Body(..., examples=[schemas.EXAMPLE]),
                             version: str | None = version_query):
        s = state(version)
        members = []
        for i, m in enumerate(request.members, start=1):
            if m.user is not None and not m.ratings and m.user not in s.tables.users.index:
                raise E.ApiError(404, "unknown_user", f"unknown user {m.user} (member {i}) and no ratings given")
            try:
                members.append(s.tables.member_with_ratings([(r.movie, r.rating) for r in m.ratings], m.user,
                                                            m.sex, m.age, m.occupation))
            except ValueError as error:
                raise E.ApiError(422, "invalid_request", f"member {i}: {error}",
                                 errors=[{"loc": ["body", "members", i - 1], "msg": str(error)[:200],
                                          "type": "value_error"}]) from None
        if len(members) == 2 and members[0] == members[1]:
            members = members[:1]
        body = R.recommendations(s.scorer, s.tables, members, request.n, request.strategy, request.diversify,
                                 watcher.retrieval)
        return {"users": [m.user if m.user != R.NEW_USER_ID else None for m in members], "model_version": s.version,
                "ranker": s.ranker, **body}

    @app.get("/v1/predict", summary="One pair prediction", response_model=schemas.Prediction,
             responses=errors(404, 422, 503))
    def predict(users: str = Query(..., max_length=MAX_USERS_CHARS * 10, examples=["1,2"]),
                movie: int = Query(..., ge=0, le=schemas.MAX_ID, description="movie id"),
                version: str | None = version_query):
        ids = users_of(users)
        s = state(version)
        members = members_of(s, ids)
        if movie not in s.tables.movies.index:
            raise E.ApiError(404, "unknown_movie", f"unknown movie {movie}")
        a, b = members[0], members[-1]
        row = R.score_pair(s.scorer, s.tables, a, b, movies=s.tables.movies.loc[[movie]]).iloc[0]
        found = R.top_contributors(s.tables, members, [movie], s.scorer) if "watch" in row.index else None
        return {"users": ids, "movie": movie, "title": row["title"], "model_version": s.version, "ranker": s.ranker,
                "pair_rating": round(float(row["pair_rating"]), 4),
                "member_ratings": [{"user": m.user, "predicted_rating": round(float(row[f"{side}_rating"]), 4)}
                                   for side, m in zip(("a", "b"), members)],
                "already_rated_by": [m.user for m in members if movie in m.seen],
                "reason": R.reason(s.tables, row, members, [f[0] for f in found] if found else None)}

    return app


async def _run_in_thread(fn):
    import anyio

    return await anyio.to_thread.run_sync(fn)


# Server settings (README, "The recommendation service"): an idle keep-alive connection is
# closed after KEEP_ALIVE_SECONDS; request heads over MAX_HEADER_BYTES are refused by uvicorn;
# body size, body time, content type and concurrency are bounded by serving/limits.py.
KEEP_ALIVE_SECONDS = 5
# Requests scored at once, whatever the cores: while one thread's request is in TensorFlow
# (which releases the GIL) another's Python parts run. On 2 cores, ML-1M's catalogue, 8 clients
# (bench.serve, 2026-12-08, two rounds): 26.7 and 26.1 requests/s with 8 against 19.3 and 22.5
# with 2 (the cores), p99 428 and 477 ms against 818 and 648; p50 at 1 client 54 against 65 ms.
SCORING_THREADS = 8
MALLOC_ARENAS = 2           # glibc malloc arenas (M_ARENA_MAX), set before any thread starts
MAX_HEADER_BYTES = 16 * 1024
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# One access-log line a request: time, client, request line, status.
UVICORN_LOGGING = {
    "version": 1, "disable_existing_loggers": False,
    "formatters": {
        "default": {"()": "uvicorn.logging.DefaultFormatter", "fmt": LOG_FORMAT, "use_colors": False},
        "access": {"()": "uvicorn.logging.AccessFormatter", "use_colors": False,
                   "fmt": '%(asctime)s access %(client_addr)s "%(request_line)s" %(status_code)s'},
    },
    "handlers": {
        "default": {"formatter": "default", "class": "logging.StreamHandler", "stream": "ext://sys.stderr"},
        "access": {"formatter": "access", "class": "logging.StreamHandler", "stream": "ext://sys.stdout"},
    },
    "loggers": {
        "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
        "uvicorn.error": {"level": "INFO"},
        "uvicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
    },
}


def _limit_malloc_arenas(arenas: int) -> None:
    """glibc gives each thread that allocates its own malloc arena (up to 8 per core), and
    an arena keeps what was freed in it: a threaded service's RSS creeps up by arenas. One
    mallopt(M_ARENA_MAX) before the threads start bounds that; a no-op off glibc."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(-8, arenas)          # M_ARENA_MAX
    except (OSError, AttributeError):
        pass


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m serving.serve", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work-dir", default=DEFAULT_WORK_DIR, help="the work folder: serving_model/, prepared/, metadata.sqlite (default %(default)s)")
    p.add_argument("--prepared", help="prepared data folder (default: the one the pushing run read)")
    p.add_argument("--host", default="127.0.0.1", help="the address to listen on (default %(default)s)")
    p.add_argument("--port", type=int, default=8000, help="the port to listen on (default %(default)s)")
    p.add_argument("--poll", type=float, default=2.0, help="seconds between looks at the serving folder")
    p.add_argument("--workers", type=int, default=1,
                   help="service processes on the one port, each with its own model and tables (memory: "
                        "about 1 GB each at ML-1M's size); on 2 cores more than one adds no throughput "
                        "(README, BENCHMARKS.md)")
    p.add_argument("--scoring-threads", type=int, default=SCORING_THREADS,
                   help=f"requests scored at once in a process, the rest wait in order (default {SCORING_THREADS}: "
                        "more than the cores, so that the Python of one overlaps the TensorFlow of another)")
    p.add_argument("--batch-wait-ms", type=float, default=BATCH_WAIT_MS,
                   help="concurrent requests' model calls are joined into one call, each round waiting at most "
                        f"this long for them (serving/batching.py; default {BATCH_WAIT_MS:g}; 0: every request "
                        "on its own)")
    R.add_retrieval_args(p)
    args = p.parse_args(argv)
    if args.batch_wait_ms < 0:
        p.error(f"--batch-wait-ms must be 0 or more, got {args.batch_wait_ms:g}")
    if args.scoring_threads < 1:
        p.error(f"--scoring-threads must be 1 or more, got {args.scoring_threads}")
    retrieval = R.retrieval_from_args(args)
    if args.workers < 1:
        p.error(f"--workers must be 1 or more, got {args.workers}")
    import uvicorn

    settings = {"work_dir": args.work_dir, "prepared": args.prepared, "poll_seconds": args.poll,
                "scoring_threads": args.scoring_threads, "batch_wait_ms": args.batch_wait_ms,
                "retrieval": dataclasses.asdict(retrieval) if retrieval is not None else None}
    os.environ[APP_SETTINGS_ENV] = json.dumps(settings)      # each worker process builds its app from it
    print(f"serving on http://{args.host}:{args.port} (OpenAPI docs at /docs); "
          f"models from {WorkLayout.at(args.work_dir).serving_model}"
          f"{f'; {args.workers} worker processes' if args.workers > 1 else ''}", flush=True)
    uvicorn.run("serving.serve:app_from_environment", factory=True,
                workers=args.workers, host=args.host, port=args.port, log_level="info",
                log_config=UVICORN_LOGGING, timeout_keep_alive=KEEP_ALIVE_SECONDS,
                h11_max_incomplete_event_size=MAX_HEADER_BYTES, timeout_graceful_shutdown=10)


APP_SETTINGS_ENV = "MOVIE_PAIR_SERVING_SETTINGS"


def app_from_environment():
    """The app of main()'s settings (APP_SETTINGS_ENV), built in each worker process."""
    settings = json.loads(os.environ[APP_SETTINGS_ENV])
    retrieval = R.Retrieval(**settings["retrieval"]) if settings["retrieval"] is not None else None
    _limit_malloc_arenas(MALLOC_ARENAS)
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    return create_app(settings["work_dir"], settings["prepared"], settings["poll_seconds"], retrieval=retrieval,
                      scoring_threads=settings.get("scoring_threads"), batch_wait_ms=settings.get("batch_wait_ms"))


if __name__ == "__main__":
    main()
