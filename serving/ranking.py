"""The pair ranker and its ranking metrics: HR@10, NDCG@10, catalogue coverage, on pair and
single rows, with popularity and EASE as peers on the identical rows.

The protocol. A row is a test-split target rated >= 4 (by the pair: its label, the members'
mean). The target is ranked among every catalogue movie neither member had rated before
the target's second; each ranker reads what the rating model reads, every rating before
that second ("What a row may read" in the README):
  - popularity: rating counts of the period before the split (train, or train+eval on test);
  - EASE (serving/ease.py): fitted on that period's ratings, lambda chosen on eval, a
    member's profile every movie they rated before the target (binary), a pair the sum;
  - EASE with recency: the same EASE over each member's profile weighted by recency
    (decay^k for the k-th newest rating, and with `liked` by how much they liked it),
    summed over the members: the strongest simple ranker, and the pair ranker's first part;
  - the sequence model (trainer_fn/sequence.py): the sum over the members of log p(movie |
    their last sequence_length movies); and the same with those movies shuffled (does
    their order matter?);
  - the pair ranker, what the service ranks by: the watch score (EASE with recency
    standardised over the case's candidates, mixed with the sequence model's score
    standardised the same way: (1 - sequence_weight) x the one + sequence_weight x the
    other) retrieves the retrieval.size best candidates, ranked by
    it plus rating_weight times the rating model's predicted pair rating (a target not
    retrieved is a miss); and the same without the sequence model (its weight 0). The rating
    model scores only the retrieved candidates (predict_pair_raw, many cases a call): its
    cost is set by the sample, not by the catalogue.
Every choice (EASE's lambda, the decay and liked, the sequence and the rating weight) is made
on eval rows (EASE fitted on train ratings, profiles up to the eval target), judged by
NDCG@10 on pair rows; the test split is read once, for the table. The ranking check: the pair
ranker's NDCG@10 on test pair rows minus the best peer's (popularity, EASE, EASE with
recency), a 95% bootstrap interval over rows; and the sequence model's gain, the pair ranker
minus the same ranker without it, with its interval.

In the pipeline, serving/ranking_evaluator.py's RankingEvaluator runs measure() after the
Trainers and the BlessingGate requires its check; runners/run_local.py copies its result to
<work>/reports/<run id>/ranking.json (for_run): the summary prints it, the report shows it;
the pushed version carries it in assets.extra/ranking.json (serving/version_files.py), where
the service and the command line read the chosen settings.
"""

from __future__ import annotations

import dataclasses
import json
import time
import weakref
from pathlib import Path

import numpy as np
import pandas as pd

from serving import recommend as R
from components.blessing_gate import read_ranking
from pipeline.config import PipelineConfig
from serving.ease import Ease, PairRanker, RankerParams, best_positions, mixed, standardised, watch_totals
from serving.version_files import ratings_digest
from transform_fn import features as F

K = 10
SUMMARY_ROWS = 500       # the run summary's sample: test pair rows (label >= 4)...
SUMMARY_SINGLES = 300    # ...single rows (rating >= 4)...
SUMMARY_PAIRS = 300      # ...and random pairs for the coverage
RESULT_FILE = F.RANKING_FILE
LAMBDAS = (100.0, 200.0, 500.0, 1000.0, 2000.0)
DECAYS = (1.0, 0.99, 0.97, 0.95, 0.9, 0.8)
# Both on the standardised watch score's scale (serving/ease.py standardised).
RATING_WEIGHTS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 10.0)
# EASE is fitted on at most this many of the most rated movies: its movies x movies matrices
# (a float32 Gram, a float64 inverse, the float32 B served) stay about 1.6 GB and a fit under a
# minute on 2 cores whatever the catalogue (ML-20M has 26,744 rated movies, ML-25M 59,047).
# Fitting EASE on only the most rated movies changed eval NDCG@10 by no more than the noise
# between bounds down to 1,000 of ML-100K's 1,614 rated movies, of the ML-1M-sized synthetic
# data's 3,706 and of the ml-latest-small-shaped data's 8,255 (BENCHMARKS.md, "EASE on the
# most rated movies", bench/ease_bound.py): the bound is ten times that.
# A run sets it by PipelineConfig.ease_most_rated (run_local --ease-most-rated).
EASE_MOST_RATED = PipelineConfig.ease_most_rated
# the sequence model's share of the watch score: (1 - w) x EASE with recency + w x its pair score
SEQUENCE_WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
RESAMPLES = 1000
RECENCY_PEER = "EASE with recency"
PEERS = ("popularity", "EASE", RECENCY_PEER)
RANKER = "pair ranker"
SEQUENCE = "sequence model"
WITHOUT_SEQUENCE = "pair ranker without the sequence model"


def hit_and_ndcg(ranks: np.ndarray, k: int = K) -> tuple[float, float]:
    """Mean hit rate and NDCG at k for 1-based ranks of one relevant item per row."""
    ranks = np.asarray(ranks, dtype=float)
    if ranks.size == 0:
        return float("nan"), float("nan")
    hits = ranks <= k
    return float(hits.mean()), float(ndcg_per_row(ranks, k).mean())


def ndcg_per_row(ranks: np.ndarray, k: int = K) -> np.ndarray:
    ranks = np.asarray(ranks, dtype=float)
    return np.where(ranks <= k, 1.0 / np.log2(ranks + 1.0), 0.0)


def target_rank(scores: np.ndarray, target: int) -> int:
    """1 + the number of candidates scored strictly above the target (ties in its favour)."""
    return int(1 + np.sum(scores > scores[target]))


@dataclasses.dataclass
class Case:
    """One ranked row: its members, the target, each member's profile (every movie rated
    before the target's second, oldest first, and its stars) and the raw row the rating
    models read."""
    members: tuple[int, ...]
    target: int
    profiles: list[tuple[list[int], list[float]]]
    seen: set
    row: dict


def cases(tables: R.Tables, split: str, kind: str, rows: int, seed: int) -> list[Case]:
    """A seeded sample of `split`'s rows of `kind` (pairs/singles) whose label is >= 4."""
    frame = pd.read_csv(tables.prepared / split / f"{kind}.csv", dtype=str, keep_default_na=False)
    frame = frame[frame[F.LABEL].astype(float) >= 4]
    frame = frame.sample(min(rows, len(frame)), random_state=seed) if len(frame) else frame
    out = []
    for row in frame.to_dict("records"):
        target = int(row[F.MOVIE])
        members = tuple(dict.fromkeys((int(row[F.user("a")]), int(row[F.user("b")]))))
        profiles, seen = [], set()
        for user in members:
            mine = tables.by_user.get(user, tables.ratings.iloc[:0])
            when = mine.loc[mine["movie_id"] == target, "timestamp"]
            before = mine[mine["timestamp"] < when.min()] if len(when) else mine.iloc[:0]
            profiles.append((before["movie_id"].astype(int).tolist(), before["rating"].astype(float).tolist()))
            seen |= set(profiles[-1][0])
        out.append(Case(members, target, profiles, seen, row))
    return out


class Catalogue:
    """The ranked movies (sorted by id: EASE's scores are spread over them, watch_scores), and a
    case's candidates and target among them."""

    def __init__(self, tables: R.Tables):
        self.tables = tables
        self.ids = np.sort(tables.movies["movie_id"].to_numpy(dtype=np.int64))
        self.movies = tables.movies.loc[self.ids]
        self._arrays = weakref.WeakKeyDictionary()     # by scorer: raw_arrays

    def candidates(self, case: Case) -> tuple[np.ndarray, int]:
        mask = ~np.isin(self.ids, list(case.seen - {case.target}))
        return mask, int(np.searchsorted(self.ids, case.target))

    def raw_arrays(self, scorer: R.Scorer) -> dict[str, np.ndarray]:
        """Every catalogue movie's raw row (blank members, no recent raters) as the scorer's
        input arrays, in catalogue order; computed once."""
        arrays = self._arrays.get(scorer)
        if arrays is None:
            arrays = self._arrays[scorer] = R.movie_arrays(scorer, self.movies)
        return arrays

    def counts(self, ratings: pd.DataFrame) -> np.ndarray:
        return ratings["movie_id"].value_counts().reindex(self.ids).fillna(0).to_numpy(float)


def watch_scores(ease: Ease, catalogue: Catalogue, case_list: list[Case], decay: float,
                 liked: bool = False) -> list[np.ndarray]:
    """'Both will watch it' per case over the catalogue: the members' recency- (and liking-)
    weighted EASE scores, summed (serving/ease.py watch_totals: every case in one sparse
    product); 0 for a movie outside the fit."""
    return list(watch_totals(ease, [case.profiles for case in case_list], decay, liked, catalogue.ids))


def model_scores(scorer: R.Scorer, catalogue: Catalogue, case_list: list[Case],
                 positions: list[np.ndarray]) -> list[np.ndarray]:
    """The model's predicted pair rating of the catalogue movies at `positions` (per case) for
    each case's own row, NaN at the others; many cases' rows go through predict_pair_raw in
    one call (up to SCORE_BATCH rows). The rows are built as arrays: every movie's columns
    converted once, each case's members' columns repeated over its candidates."""
    out = [np.full(len(catalogue.ids), np.nan) for _ in case_list]
    movies = catalogue.raw_arrays(scorer)
    batch, owners = [], []

    def flush():
        if not batch:
            return
        values = np.asarray(scorer.pair_ratings({name: np.concatenate([part[name] for part in batch])
                                                 for name in batch[0]}), np.float64)
        at = 0
        for i, where in owners:
            out[i][where] = values[at:at + len(where)]
            at += len(where)
        batch.clear()
        owners.clear()

    for i, (case, where) in enumerate(zip(case_list, positions)):
        # the row's own users and histories, as of its target
        part = R.with_members(movies, where, {column(side): case.row[column(side)]
                                              for column in F.USER_COLUMNS for side in F.SIDES})
        batch.append(part)
        owners.append((i, where))
        if sum(len(p[F.MOVIE]) for p in batch) >= R.SCORE_BATCH:
            flush()
    flush()
    return out


def retrieved(watch: list[np.ndarray], catalogue: Catalogue, case_list: list[Case], size: int | None) -> list[np.ndarray]:
    """Per case, the catalogue positions the pair ranker scores with the rating model: the
    `size` candidates of highest watch score, ties by movie id (the service's retrieval,
    recommend.score_pair), every candidate with size None."""
    out = []
    for w, case in zip(watch, case_list):
        mask, _ = catalogue.candidates(case)
        n = int(mask.sum()) if size is None else min(size, int(mask.sum()))
        out.append(best_positions(np.where(mask, w, -np.inf), catalogue.ids, n))
    return out


def ranks_within(scores: list[np.ndarray], positions: list[np.ndarray], catalogue: Catalogue,
                 case_list: list[Case]) -> np.ndarray:
    """The target's rank per case by `scores` among only the movies at `positions` (its
    retrieved candidates); np.inf (a miss) for a target not among them."""
    out = []
    for s, where, case in zip(scores, positions, case_list):
        mask, target = catalogue.candidates(case)
        kept = np.zeros_like(mask)
        kept[where] = True
        mask = mask & kept                      # never a movie they rated, however few are left
        out.append(target_rank(np.where(mask, s, -np.inf), target) if mask[target] else np.inf)
    return np.array(out, dtype=float)


def sequence_scores(scorer: R.Scorer, catalogue: Catalogue, case_list: list[Case],
                    shuffle_seed: int | None = None) -> list[np.ndarray] | None:
    """The sequence model's pair score of every catalogue movie per case (the sum over its
    members of log p(movie | every movie they rated before the target, oldest first)), all
    cases' histories in one batch; None for a model without it. shuffle_seed: the movies the
    model reads (each history's last sequence_length) shuffled first, the ablation that asks
    whether their order matters."""
    if not scorer.has_sequence:
        return None
    histories = [list(ids) for case in case_list for ids, _ in case.profiles]
    if shuffle_seed is not None:
        rng = np.random.default_rng(shuffle_seed)
        n = scorer.sequence_length
        histories = [h[:-n] + list(rng.permutation(h[-n:])) if len(h) else h for h in histories]
    scores = scorer.next_log_probabilities(histories, catalogue.ids) if histories else np.zeros((0, len(catalogue.ids)))
    out, at = [], 0
    for case in case_list:
        out.append(scores[at:at + len(case.profiles)].sum(axis=0))
        at += len(case.profiles)
    return out


def standardised_per_case(scores: list[np.ndarray], catalogue: Catalogue, case_list: list[Case]) -> list[np.ndarray]:
    """Each case's scores standardised over its candidates (serving/ease.py standardised), as the
    service standardises over a request's unseen movies."""
    return [standardised(s, catalogue.candidates(c)[0]) for s, c in zip(scores, case_list)]


def mix(parts: list[np.ndarray], share: float, others: list[np.ndarray] | None) -> list[np.ndarray]:
    """(1 - share) x parts + share x others, case by case (parts as they are when others is None
    or share 0): the pair ranker's watch score (PairRanker.blend)."""
    if others is None:
        return parts
    return [mixed(p, o, share) for p, o in zip(parts, others)]


def plus(parts: list[np.ndarray], weight: float, others: list[np.ndarray] | None) -> list[np.ndarray]:
    """parts + weight x others, case by case (parts as they are when others is None or weight 0)."""
    if others is None or not weight:
        return parts
    return [p + weight * o for p, o in zip(parts, others)]


def ranks_of(scores: list[np.ndarray], catalogue: Catalogue, case_list: list[Case]) -> np.ndarray:
    """The target's rank per case among its candidates (every movie not rated before it)."""
    out = []
    for s, case in zip(scores, case_list):
        mask, where = catalogue.candidates(case)
        out.append(target_rank(np.where(mask, s, -np.inf), where))
    return np.array(out, dtype=float)


def ndcg_of(scores, catalogue, case_list) -> float:
    return hit_and_ndcg(ranks_of(scores, catalogue, case_list))[1]


def choose(tables: R.Tables, catalogue: Catalogue, scorer: R.Scorer, rows: int, seed: int,
           size: int | None = R.DEFAULT_RETRIEVAL.size, most_rated: int | None = EASE_MOST_RATED
           ) -> tuple[RankerParams, dict]:
    """The ranker's settings, chosen on eval pair rows only: EASE fitted on train ratings (on
    the `most_rated` movies); the rating weights on the `size` candidates the watch score
    retrieves, as the service ranks."""
    train = tables.ratings[tables.ratings["split"] == F.TRAIN_SPLIT]
    chosen = cases(tables, F.EVAL_SPLIT, "pairs", rows, seed)
    log = {"rows": len(chosen), "lambda": {}, "decay": {}, "liked": {}, "rating_weight": {},
           "single_rating_weight": {}}
    if not chosen:
        return RankerParams(most_rated=most_rated), log
    ease = None                 # the best fit so far: one movies x movies matrix alive beside the one fitted
    for fit in Ease.fits(train, catalogue.ids, LAMBDAS, most_rated):
        lam = fit.lam
        log["lambda"][lam] = ndcg_of(watch_scores(fit, catalogue, chosen, 1.0), catalogue, chosen)
        if ease is None or (log["lambda"][lam], -lam) > (log["lambda"][ease.lam], -ease.lam):
            ease = fit
        del fit
    lam = ease.lam
    watch = {}
    for decay in DECAYS:
        watch[decay, False] = watch_scores(ease, catalogue, chosen, decay)
        log["decay"][decay] = ndcg_of(watch[decay, False], catalogue, chosen)
    decay = max(DECAYS, key=lambda x: (log["decay"][x], x))
    for liked in (False, True):
        watch[decay, liked] = watch.get((decay, liked)) or watch_scores(ease, catalogue, chosen, decay, liked)
        log["liked"][liked] = ndcg_of(watch[decay, liked], catalogue, chosen)
    liked = max((False, True), key=lambda x: (log["liked"][x], not x))
    both = standardised_per_case(watch[decay, liked], catalogue, chosen)
    sequence = sequence_scores(scorer, catalogue, chosen)
    sequence_weight = 0.0
    if sequence is not None:        # the sequence model (trainer_fn/sequence.py), 0 allowed
        sequence = standardised_per_case(sequence, catalogue, chosen)
        log["sequence_weight"] = {w: ndcg_of(mix(both, w, sequence), catalogue, chosen) for w in SEQUENCE_WEIGHTS}
        sequence_weight = max(SEQUENCE_WEIGHTS, key=lambda x: (log["sequence_weight"][x], -x))
        both = mix(both, sequence_weight, sequence)
    where = retrieved(both, catalogue, chosen, size)
    ratings = model_scores(scorer, catalogue, chosen, where)
    for w in RATING_WEIGHTS:
        log["rating_weight"][w] = hit_and_ndcg(ranks_within(plus(both, w, ratings), where, catalogue, chosen))[1]
    weight = max(RATING_WEIGHTS, key=lambda x: (log["rating_weight"][x], -x))
    # One person alone (the service's single mode): the same watch settings, its own rating weight.
    singles = cases(tables, F.EVAL_SPLIT, "singles", rows, seed)
    single_weight = weight
    if singles:
        sequence_one = sequence_scores(scorer, catalogue, singles)
        watch_one = mix(standardised_per_case(watch_scores(ease, catalogue, singles, decay, liked),
                                               catalogue, singles), sequence_weight,
                         standardised_per_case(sequence_one, catalogue, singles) if sequence_one else None)
        where_one = retrieved(watch_one, catalogue, singles, size)
        ratings_one = model_scores(scorer, catalogue, singles, where_one)
        for w in RATING_WEIGHTS:
            log["single_rating_weight"][w] = hit_and_ndcg(ranks_within(plus(watch_one, w, ratings_one), where_one,
                                                                       catalogue, singles))[1]
        single_weight = max(RATING_WEIGHTS, key=lambda x: (log["single_rating_weight"][x], -x))
    return RankerParams(lam, decay, liked, weight, single_weight, sequence_weight, most_rated), log


def interval(a: np.ndarray, b: np.ndarray, resamples: int = RESAMPLES, seed: int = 0) -> dict:
    """Mean of a - b per row and its 95% bootstrap interval (rows resampled)."""
    d = np.asarray(a, float) - np.asarray(b, float)
    if not d.size:
        return {"difference": float("nan"), "low": float("nan"), "high": float("nan")}
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, d.size, (resamples, d.size))].mean(axis=1)
    return {"difference": float(d.mean()), "low": float(np.quantile(means, 0.025)),
            "high": float(np.quantile(means, 0.975)), "resamples": resamples}


def evaluate(ease: Ease, pop: np.ndarray, catalogue: Catalogue, params: RankerParams, scorer: R.Scorer,
             case_list: list[Case], size: int | None, single: bool = False, seed: int = 0) -> dict[str, np.ndarray]:
    """Target ranks per ranker on test cases; `ease` and `pop` (rating counts) are fitted on
    the ratings before the test period (train+eval). The pair rankers rank as the service does:
    the `size` candidates of highest watch score, by watch + the rating weight x the predicted
    pair rating (a target not retrieved is a miss)."""
    recency = watch_scores(ease, catalogue, case_list, params.decay, params.liked)
    ranks = {"popularity": ranks_of([pop] * len(case_list), catalogue, case_list),
             "EASE": ranks_of(watch_scores(ease, catalogue, case_list, 1.0), catalogue, case_list),
             RECENCY_PEER: ranks_of(recency, catalogue, case_list)}
    sequence = sequence_scores(scorer, catalogue, case_list)
    weight = PairRanker(ease, params).weight(single)
    watch = standardised_per_case(recency, catalogue, case_list)
    arms = {}
    if sequence is not None:
        ranks[SEQUENCE] = ranks_of(sequence, catalogue, case_list)
        ranks[f"{SEQUENCE} (history shuffled)"] = ranks_of(sequence_scores(scorer, catalogue, case_list, seed),
                                                           catalogue, case_list)
        arms[WITHOUT_SEQUENCE] = watch
        watch = mix(watch, params.sequence_weight, standardised_per_case(sequence, catalogue, case_list))
    arms[RANKER] = watch
    where = {name: retrieved(w, catalogue, case_list, size) for name, w in arms.items()}
    union = [np.union1d(*parts) if len(parts) > 1 else parts[0] for parts in zip(*where.values())]
    ratings = model_scores(scorer, catalogue, case_list, union)      # one pass for both arms
    for name, w in arms.items():
        ranks[name] = ranks_within(plus(w, weight, ratings), where[name], catalogue, case_list)
    return ranks


def coverage(scorer: R.Scorer, tables: R.Tables, ranked: PairRanker, pairs: int, seed: int,
             retrieval: R.Retrieval | None) -> dict[str, float]:
    """The share of the catalogue in the top-10 lists of `pairs` random pairs: popularity's,
    EASE's and the pair ranker's as the service shows them (`ranked`: the served ranker, its
    EASE fitted on every rating)."""
    users = tables.users.index.to_numpy()
    rng = np.random.default_rng(seed)
    chosen = [tuple(int(u) for u in rng.choice(users, 2, replace=False)) for _ in range(pairs)] if len(users) > 1 else []
    shown = {"popularity": set(), "EASE": set(), RANKER: set()}
    for a, b in chosen:
        ma, mb = tables.member(a), tables.member(b)
        movies = tables.candidates([ma, mb])
        ids = movies["movie_id"].to_numpy()
        counts = movies["movie_id"].map(tables.popularity).fillna(0).to_numpy()
        shown["popularity"] |= set(ids[np.lexsort((ids, -counts))[:K]].tolist())
        plain = ranked.watch([ma, mb], ids, decay=1.0, liked=False)
        shown["EASE"] |= set(ids[np.lexsort((ids, -plain))[:K]].tolist())
        # the service's list: rank() by the pair rating and the watch score, which needs no
        # member's own rating (top=0: predict_raw is not called; listed=K: the pair ratings of
        # the candidates that can reach the first K places)
        top = R.rank(R.score_pair(scorer, tables, ma, mb, retrieval=retrieval, ranker=ranked, top=0, listed=K),
                     "average", K)
        shown[RANKER] |= set(int(m) for m in top["movie_id"])
    return {name: len(s) / max(len(tables.movies), 1) for name, s in shown.items()}


def measure(model: Path, baseline: Path | None, prepared: Path, rows: int = SUMMARY_ROWS,
            singles: int = SUMMARY_SINGLES, pairs: int = SUMMARY_PAIRS, seed: int = 0,
            retrieval: R.Retrieval | None = R.DEFAULT_RETRIEVAL, most_rated: int | None = EASE_MOST_RATED) -> dict:
    """The ranker's settings chosen on eval, then the table on test pair and single rows."""
    return measure_and_fit(model, baseline, prepared, rows, singles, pairs, seed, retrieval, most_rated)[0]


def measure_and_fit(model: Path, baseline: Path | None, prepared: Path, rows: int = SUMMARY_ROWS,
                    singles: int = SUMMARY_SINGLES, pairs: int = SUMMARY_PAIRS, seed: int = 0,
                    retrieval: R.Retrieval | None = R.DEFAULT_RETRIEVAL, most_rated: int | None = EASE_MOST_RATED
                    ) -> tuple[dict, Ease]:
    """measure()'s result, and the served EASE: fitted on every rating at the chosen lambda,
    as the service ranks with it (the RankingEvaluator puts it into the version it pushes).
    EASE is fitted on the `most_rated` movies (None: every rated movie)."""
    started = time.time()
    tables = R.Tables(prepared)
    catalogue = Catalogue(tables)
    scorer = R.Scorer(model)
    keep = retrieval.size if retrieval is not None else None
    params, chosen = choose(tables, catalogue, scorer, rows, seed, keep, most_rated)
    before = tables.ratings[tables.ratings["split"] != F.TEST_SPLIT]
    ease, pop = Ease.fit(before, catalogue.ids, params.lam, params.most_rated), catalogue.counts(before)
    table, per_row = {}, {}
    for kind, n in (("pair", rows), ("single", singles)):
        test = cases(tables, F.TEST_SPLIT, f"{kind}s", n, seed)
        ranks = evaluate(ease, pop, catalogue, params, scorer, test, keep, single=kind == "single", seed=seed)
        per_row[kind] = ranks
        for name, r in ranks.items():
            hr, ndcg = hit_and_ndcg(r)
            table.setdefault(name, {})[kind] = {"hr": hr, "ndcg": ndcg, "rows": int(r.size)}
    pair = per_row["pair"]
    best_peer = max(PEERS, key=lambda name: table[name]["pair"]["ndcg"])
    check = interval(ndcg_per_row(pair[RANKER]), ndcg_per_row(pair[best_peer]), seed=seed)
    check.update(peer=best_peer, passed=bool(check["high"] >= 0.0) if np.isfinite(check["high"]) else False,
                 rule="NDCG@10 on test pair rows: the pair ranker not below the best peer (upper end of the "
                      "95% interval of the difference >= 0)")
    if WITHOUT_SEQUENCE in pair:
        gain = interval(ndcg_per_row(pair[RANKER]), ndcg_per_row(pair[WITHOUT_SEQUENCE]), seed=seed)
        check["sequence_gain"] = {**gain, "rule": "NDCG@10 on test pair rows: the pair ranker minus the same "
                                                  "ranker with the sequence model's weight at 0"}
    del ease                     # one EASE matrix alive at a time
    served = Ease.fit(tables.ratings, tables.movies["movie_id"], params.lam, params.most_rated)
    cover = coverage(scorer, tables, PairRanker(served, params), pairs, seed, retrieval)
    for name, value in cover.items():
        table[name]["coverage"] = value
    return {"data": prepared.name, "model": str(model), "baseline": str(baseline) if baseline else None,
            "params": dataclasses.asdict(params), "chosen_on_eval": chosen, "rows": rows, "singles": singles,
            "pairs": pairs, "seed": seed, "k": K, "retrieval": dataclasses.asdict(retrieval) if retrieval else None,
            "rankers": table, "check": check,
            "served_ease": {"lambda": served.lam, "movies": len(served.movies), "ratings": ratings_digest(tables.ratings)},
            "seconds": round(time.time() - started, 1)}, served


def for_run(run, out_dir: Path) -> dict | None:
    """A pipeline run's RankingEvaluator result, copied to out_dir/RESULT_FILE; None when
    the run has none (run with --no-ranking, or it failed before)."""
    evaluation = run.output("RankingEvaluator", "evaluation")
    result = read_ranking(evaluation.uri) if evaluation is not None else None
    if result is None:
        return None
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / RESULT_FILE).write_text(json.dumps(result, indent=2))
    return result


def sample_text(result: dict) -> str:
    """What the numbers are on, in words (the run summary's and the report's)."""
    p = result["params"]
    learned = (f", mixed {1 - p['sequence_weight']:g} : {p['sequence_weight']:g} with the sequence model's pair "
               f"score (standardised)" if p.get("sequence_weight") else "")
    return (f"test rows with label >= 4 (up to {result['rows']} pair and {result['singles']} single), the target "
            f"ranked among every movie neither member rated before its second; pair ranker = EASE over the "
            f"members' histories (lambda {p['lam']:g}, recency decay {p['decay']:g}"
            f"{', weighted by liking' if p.get('liked') else ''}; standardised over the candidates)"
            f"{learned} + {p['rating_weight']:g} x "
            f"predicted pair rating ({p.get('single_rating_weight', p['rating_weight']):g} x for one person), "
            f"all chosen on eval; coverage over {result['pairs']} random pairs, seed "
            f"{result['seed']}")


COLUMNS = ("pair HR@10", "pair NDCG@10", "single HR@10", "single NDCG@10", "coverage")


def table_rows(result: dict) -> list[tuple[str, list[float | None]]]:
    """(ranker, [pair HR, pair NDCG, single HR, single NDCG, coverage]) per ranker, None
    where a ranker has no such number: the summary's, the report's and BENCHMARKS.md's table."""
    out = []
    for name, m in result["rankers"].items():
        values = [m.get(kind, {}).get(key) for kind in ("pair", "single") for key in ("hr", "ndcg")]
        out.append((name, values + [m.get("coverage")]))
    return out


def check_text(result: dict) -> str:
    c = result["check"]
    return (f"pair ranker - {c['peer']} (NDCG@10, test pair rows): {c['difference']:+.3f}, 95% interval "
            f"[{c['low']:+.3f}, {c['high']:+.3f}] ({c.get('resamples', RESAMPLES)} row resamples): "
            f"{'ok' if c['passed'] else 'FAILED'}"
            + (f"; the sequence model's gain (the pair ranker minus the same with its weight 0): "
               f"{g['difference']:+.3f} [{g['low']:+.3f}, {g['high']:+.3f}]" if (g := c.get("sequence_gain")) else ""))
