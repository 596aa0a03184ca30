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
Candidates (the most rated unseen movies and those nearest the members' histories in the
model's movie embedding, or every unseen movie), scoring, ranking and reasons are
serving/recommend.py's, the code the CLI runs.
"""


import argparse
import dataclasses
import datetime as dt
import logging
import os
import threading
import time
from pathlib import Path
from typing import Literal

from common.layout import DEFAULT_WORK_DIR, WorkLayout
from serving import recommend as R
from transform_fn import features as F

log = logging.getLogger("serving.serve")
MAX_N = 100
SETTLE_SECONDS = 2.0      # a version folder is loaded once nothing in it changed for this long
NO_MODEL = ("no pushed model under {serving}: run `make run` until a model passes the blessing gate "
            "(on the tiny data, for development: make run SIZE=tiny ARGS=\"--baseline-margin -1\"); "
            "the service picks it up without a restart")


@dataclasses.dataclass(frozen=True)
class ServingState:
    """One loaded version: everything a request needs, swapped as a whole."""
    version: str
    model_dir: Path
    scorer: R.Scorer
    tables: R.Tables
    info: dict


def model_info(work: WorkLayout, model_dir: Path) -> dict:
    """What MLMD says about a pushed version: the run, the prepared data it read, its
    evaluation's RMSE. Empty where MLMD has no record (a folder copied by hand)."""
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


def _settled(folder: Path, settle: float) -> bool:
    newest = max((p.stat().st_mtime for p in folder.rglob("*")), default=folder.stat().st_mtime)
    return time.time() - newest >= settle


class ModelWatcher:
    """Holds the current ServingState and replaces it when a newer version is pushed."""

    def __init__(self, work_dir: str | os.PathLike, prepared: str | os.PathLike | None = None,
                 poll_seconds: float = 2.0, settle_seconds: float = SETTLE_SECONDS,
                 retrieval: R.Retrieval | None = R.DEFAULT_RETRIEVAL):
        self.work = WorkLayout.at(work_dir)
        self.retrieval = retrieval              # None: every unseen movie is scored
        self.prepared = Path(prepared).resolve() if prepared else None
        self.poll_seconds = poll_seconds
        self.settle_seconds = settle_seconds
        self.current: ServingState | None = None
        self.last_error: str | None = None
        self._tables: dict[Path, R.Tables] = {}
        self._lock = threading.Lock()            # one load at a time; requests never take it
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def newest(self) -> Path | None:
        versions = [v for v in R.model_versions(self.work.serving_model) if _settled(v, self.settle_seconds)]
        return versions[-1] if versions else None

    def refresh(self) -> bool:
        """Load the newest settled version if it is not the current one; True if swapped."""
        with self._lock:
            newest = self.newest()
            if newest is None or (self.current is not None and self.current.model_dir == newest):
                return False
            try:
                state = self.load(newest)
            except Exception as error:      # keep serving the current version; retried next poll
                self.last_error = f"loading {newest}: {type(error).__name__}: {error}"
                log.error(self.last_error)
                return False
            self.current = state            # the swap: one reference assignment
            self.last_error = None
            log.info("serving model version %s (prepared data %s)", state.version, state.tables.prepared)
            return True

    def load(self, model_dir: Path) -> ServingState:
        info = model_info(self.work, model_dir)
        prepared = self.prepared or (Path(info["prepared"]) if info.get("prepared") else None)
        if prepared is None or not (prepared / "movies.csv").exists():
            prepared = self.work.latest_prepared()
        tables = self._tables.get(prepared)
        if tables is None:
            tables = self._tables[prepared] = R.Tables(prepared)
        scorer = R.Scorer(model_dir)
        # Warm-up: trace and run the signature once before the first request sees it.
        users = list(tables.users.index[:2])
        if users:
            members = [tables.member(int(u)) for u in users]
            R.score_pair(scorer, tables, members[0], members[-1], movies=tables.movies.head(64))
        info = {**info, "prepared": str(prepared), "loaded_at": _iso(time.time())}
        info.setdefault("pushed_at", _iso(model_dir.stat().st_mtime))
        return ServingState(model_dir.name, model_dir, scorer, tables, info)

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


def create_app(work_dir: str | os.PathLike = DEFAULT_WORK_DIR, prepared: str | os.PathLike | None = None,
               poll_seconds: float = 2.0, watch: bool = True, watcher: ModelWatcher | None = None,
               retrieval: R.Retrieval | None = R.DEFAULT_RETRIEVAL):
    """The FastAPI app. watch=False: no polling thread (tests call app.state.watcher.refresh())."""
    from contextlib import asynccontextmanager

    from fastapi import Body, FastAPI, HTTPException, Query, Request
    from fastapi.responses import JSONResponse
    from pydantic import BaseModel, Field

    watcher = watcher or ModelWatcher(work_dir, prepared, poll_seconds, retrieval=retrieval)

    @asynccontextmanager
    async def lifespan(app):
        if watch:
            await _run_in_thread(watcher.start)
        else:
            await _run_in_thread(watcher.refresh)
        yield
        watcher.stop()

    app = FastAPI(title="Movie pair recommender", version="1",
                  description="Top-N movies for two people (or one), scored by the newest pushed model of the "
                              "TFX pipeline. Ratings are MovieLens stars, 1 to 5.", lifespan=lifespan)
    app.state.watcher = watcher

    class Rating(BaseModel):
        movie: int = Field(description="MovieLens movie id")
        rating: float = Field(ge=1, le=5, description="stars, 1 to 5")

    class MemberIn(BaseModel):
        user: int | None = Field(None, description="a known user id (fresher ratings are added to theirs); "
                                                   "absent or unknown: a new person")
        sex: Literal["M", "F"] | None = Field(None, description="needed for a new person")
        age: int | None = Field(None, ge=0, le=120, description="MovieLens age band (1, 18, 25, 35, 45, 50, 56); "
                                                                "needed for a new person")
        occupation: int | None = Field(None, ge=0, le=20, description="MovieLens occupation code 0-20; "
                                                                      "needed for a new person")
        ratings: list[Rating] = Field(default_factory=list, max_length=1000,
                                      description="recent ratings, oldest first")

    class RecommendationRequest(BaseModel):
        members: list[MemberIn] = Field(min_length=1, max_length=2, description="one or two people")
        n: int = Field(10, ge=1, le=MAX_N)
        strategy: Literal["average", "least_misery"] = "average"
        diversify: bool = False

    def state() -> ServingState:
        current = watcher.current
        if current is None:
            detail = NO_MODEL.format(serving=watcher.work.serving_model)
            if watcher.last_error:
                detail += f" (last load failed: {watcher.last_error})"
            raise HTTPException(503, detail=detail)
        return current

    def parse_users(users: str) -> list[int]:
        parts = [p.strip() for p in users.split(",")]
        if not 1 <= len(parts) <= 2 or not all(parts):
            raise HTTPException(422, detail=f"users must be one or two comma-separated ids, got {users!r}")
        bad = [p for p in parts if not p.lstrip("-").isdigit()]
        if bad:
            raise HTTPException(422, detail=f"user ids must be integers, got {', '.join(map(repr, bad))}")
        return list(dict.fromkeys(int(p) for p in parts))     # the same id twice: one person

    def members_of(s: ServingState, users: list[int]) -> list[R.Member]:
        unknown = [u for u in users if u not in s.tables.users.index]
        if unknown:
            raise HTTPException(404, detail=f"unknown user(s): {', '.join(map(str, unknown))} "
                                            f"(not in {s.tables.prepared / 'users.csv'})")
        return [s.tables.member(u) for u in users]

    def model_summary(s: ServingState) -> dict:
        return {"version": s.version, "path": str(s.model_dir), **s.info,
                "has_attention": s.scorer.has_attention}

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception):     # never a traceback in a response
        log.exception("unhandled error on %s", request.url.path)
        return JSONResponse(status_code=500, content={"detail": f"internal error: {type(error).__name__}"})

    @app.get("/healthz", summary="Liveness, and whether a model is loaded")
    def healthz():
        current = watcher.current
        return {"status": "ok", "model_loaded": current is not None,
                "model_version": current.version if current else None}

    @app.get("/v1/model", summary="The served model: version, pushed time, RMSE from its evaluation")
    def model():
        return model_summary(state())

    @app.get("/v1/recommendations", summary="Top-n movies neither user has rated")
    def get_recommendations(
            users: str = Query(..., description="'A,B' for a pair, 'A' or 'A,A' for one person", examples=["1,2"]),
            n: int = Query(10, ge=1, le=MAX_N, description="list length"),
            strategy: Literal["average", "least_misery"] = Query(
                "average", description="average: the pair prediction; least_misery: the lower member prediction"),
            diversify: bool = Query(False, description="maximal-marginal-relevance re-rank for genre diversity")):
        ids = parse_users(users)
        s = state()
        body = R.recommendations(s.scorer, s.tables, members_of(s, ids), n, strategy, diversify, watcher.retrieval)
        return {"users": ids, "model_version": s.version, **body}

    @app.post("/v1/recommendations", summary="Top-n movies for people described by their recent ratings")
    def post_recommendations(request: RecommendationRequest = Body(..., examples=[{
            "members": [{"user": 1, "ratings": [{"movie": 10, "rating": 5}]},
                        {"sex": "F", "age": 25, "occupation": 4,
                         "ratings": [{"movie": 20, "rating": 4}, {"movie": 30, "rating": 2}]}],
            "n": 10, "strategy": "least_misery", "diversify": True}])):
        s = state()
        members = []
        for i, m in enumerate(request.members, start=1):
            if m.user is not None and not m.ratings and m.user not in s.tables.users.index:
                raise HTTPException(404, detail=f"unknown user {m.user} (member {i}) and no ratings given")
            try:
                members.append(s.tables.member_with_ratings([(r.movie, r.rating) for r in m.ratings], m.user,
                                                            m.sex, m.age, m.occupation))
            except ValueError as error:
                raise HTTPException(422, detail=f"member {i}: {error}") from None
        if len(members) == 2 and members[0] == members[1]:
            members = members[:1]
        body = R.recommendations(s.scorer, s.tables, members, request.n, request.strategy, request.diversify,
                                 watcher.retrieval)
        return {"users": [m.user if m.user != R.NEW_USER_ID else None for m in members], "model_version": s.version,
                **body}

    @app.get("/v1/predict", summary="One pair prediction")
    def predict(users: str = Query(..., examples=["1,2"]), movie: int = Query(..., description="movie id")):
        ids = parse_users(users)
        s = state()
        members = members_of(s, ids)
        if movie not in s.tables.movies.index:
            raise HTTPException(404, detail=f"unknown movie {movie} (not in {s.tables.prepared / 'movies.csv'})")
        a, b = members[0], members[-1]
        row = R.score_pair(s.scorer, s.tables, a, b, movies=s.tables.movies.loc[[movie]]).iloc[0]
        return {"users": ids, "movie": movie, "title": row["title"], "model_version": s.version,
                "pair_rating": round(float(row["pair_rating"]), 4),
                "member_ratings": [{"user": m.user, "predicted_rating": round(float(row[f"{side}_rating"]), 4)}
                                   for side, m in zip(("a", "b"), members)],
                "already_rated_by": [m.user for m in members if movie in m.seen],
                "reason": R.reason(s.tables, row, members)}

    return app


async def _run_in_thread(fn):
    import anyio

    return await anyio.to_thread.run_sync(fn)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m serving.serve", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work-dir", default=DEFAULT_WORK_DIR)
    p.add_argument("--prepared", help="prepared data folder (default: the one the pushing run read)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--poll", type=float, default=2.0, help="seconds between looks at the serving folder")
    R.add_retrieval_args(p)
    args = p.parse_args(argv)
    retrieval = R.retrieval_from_args(args)
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(args.work_dir, args.prepared, args.poll, retrieval=retrieval)
    print(f"serving on http://{args.host}:{args.port} (OpenAPI docs at /docs); "
          f"models from {WorkLayout.at(args.work_dir).serving_model}", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
