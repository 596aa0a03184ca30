"""EASE, the closed-form item-item model (Steck, "Embarrassingly Shallow Autoencoders for
Sparse Data", WWW 2019), and the "will watch" score a pair's ranking starts from.

EASE learns B = argmin ||X - X B||^2 + lambda ||B||^2 with diag(B) = 0 on the binary
user x movie matrix X of who rated what; its closed form is B = I - P / diag(P) with
P = (X'X + lambda I)^-1 (off the diagonal: -P_ij / P_jj). A person's score for movie j is
x B[:, j], x their profile. As a peer it reads the binary profile of every rating before
the target; the watch score reads the same profile weighted by recency (the k-th newest
rating weighs decay^(k-1)): what a member rated last says most about what they watch next;
and, with `liked`, by how much they liked it ((stars - 1) / 4: a 1-star rating adds nothing).
No TensorFlow: the service and the ranking metrics share it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import numpy as np
import pandas as pd
import scipy.linalg
import scipy.sparse as sp

from transform_fn import features as F


@dataclasses.dataclass
class Ease:
    movies: np.ndarray          # movie ids, in the order of B's rows and columns
    weights: np.ndarray         # B [n, n] float32, zero diagonal
    lam: float

    @classmethod
    def fit(cls, ratings: pd.DataFrame, movies, lam: float, most_rated: int | None = None) -> "Ease":
        """ratings: user_id and movie_id columns (one rating per pair; duplicates count once);
        movies: the catalogue's ids. The fit holds the catalogue's movies that someone rated
        (one nobody rated has a zero row and column in B, so leaving it out changes no score:
        `columns` says it is outside and the scorers give it 0), or, with `most_rated`, only
        that many of the most rated (ties by the lower id): an approximation for catalogues
        whose movies x movies matrix would not fit."""
        return next(cls.fits(ratings, movies, [lam], most_rated))

    @classmethod
    def fits(cls, ratings: pd.DataFrame, movies, lams, most_rated: int | None = None) -> Iterator["Ease"]:
        """Ease.fit at each lambda in turn, the Gram matrix computed once (kept in float32: its
        entries are counts of common raters, exact below 2^24): a fit is made when the next one
        is asked for, so that only the fits the caller keeps stay alive."""
        lams = [float(lam) for lam in lams]
        for lam in lams:
            if lam <= 0:
                raise ValueError(f"EASE's lambda must be positive, got {lam}")
        catalogue = np.asarray(sorted(set(int(m) for m in movies)), dtype=np.int64)
        known = ratings[ratings["movie_id"].isin(catalogue)][["user_id", "movie_id"]].drop_duplicates()
        raters = known["movie_id"].value_counts()
        if most_rated is not None and len(raters) > most_rated:
            order = np.lexsort((raters.index.to_numpy(), -raters.to_numpy()))     # most raters, then lower id
            raters = raters.iloc[order[:most_rated]]
            known = known[known["movie_id"].isin(raters.index)]
        movies = np.sort(raters.index.to_numpy(np.int64))
        column = pd.Series(np.arange(len(movies)), index=movies)
        users = pd.factorize(known["user_id"])[0]
        # who rated what, sparse (never a dense users x movies array)
        x = sp.csr_matrix((np.ones(len(users), np.float32), (users, column[known["movie_id"]].to_numpy())),
                          shape=(users.max(initial=-1) + 1, len(movies)))
        gram = (x.T @ x).toarray()
        del x
        diagonal = np.diag_indices_from(gram)
        for lam in lams:
            g = gram.astype(np.float64, order="C")     # the sparse product's dense copy may be in F order
            g[diagonal] += lam
            p = scipy.linalg.inv(g, overwrite_a=True, check_finite=False) if len(movies) else g
            del g
            p /= -np.diag(p).copy()[None, :]           # B = -P / diag(P) off the diagonal...
            p[diagonal] = 0.0                          # ...and 0 on it
            # C order: the sparse profiles @ B read it as it is (scipy copies an F-ordered B per product)
            weights = np.ascontiguousarray(p, dtype=np.float32)
            del p
            yield cls(movies, weights, lam)

    def columns(self, movie_ids) -> tuple[np.ndarray, np.ndarray]:
        """(column of each movie id, whether it is in the catalogue at all), in the ids' order."""
        ids = np.asarray(list(movie_ids), dtype=np.int64)
        if not len(ids) or not len(self.movies):
            return np.zeros(len(ids), np.int64), np.zeros(len(ids), bool)
        where = np.clip(np.searchsorted(self.movies, ids), 0, len(self.movies) - 1)
        return where, self.movies[where] == ids

    def positions(self, movie_ids) -> np.ndarray:
        """The columns of the given movie ids (ids outside the catalogue are dropped)."""
        where, known = self.columns(movie_ids)
        return where[known]

    def _known(self, movie_ids, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        where, known = self.columns(movie_ids)
        return where[known], weights[known]

    def profile(self, movie_ids, decay: float = 1.0, ratings=None) -> np.ndarray:
        """A person's weighted profile over the catalogue: movie_ids oldest first; the newest
        weighs 1, the one before it `decay`, and so on (decay 1: the binary profile); with
        `ratings` (their stars, in the same order) each also times liking(stars)."""
        x = np.zeros(len(self.movies), np.float32)
        cols, w = self._known(movie_ids, profile_weights(len(list(movie_ids)), decay, ratings))
        if len(cols):
            np.add.at(x, cols, w)
        return x

    def contributions(self, movie_ids, movie: int, decay: float = 1.0, ratings=None) -> list[tuple[int, float]]:
        """What each history movie adds to `movie`'s score, largest first (the reason)."""
        added, columns = self._added(movie_ids, [movie], decay, ratings)
        if added is None:
            return []
        order = np.argsort(-added[:, 0], kind="stable")
        return [(int(self.movies[columns[i]]), float(added[i, 0])) for i in order]

    def top_contributors(self, movie_ids, targets, decay: float = 1.0, ratings=None) -> list[tuple[int, float] | None]:
        """For each of `targets`, the history movie that adds most to its score and what it
        adds (contributions()[0] for each target, in one product); None where there is none."""
        targets = list(targets)
        added, columns = self._added(movie_ids, targets, decay, ratings)
        if added is None:
            return [None] * len(targets)
        _, known = self.columns(targets)
        best = np.argmax(added, axis=0)        # the first of equal maxima, as the stable sort
        return [(int(self.movies[columns[best[j]]]), float(added[best[j], j])) if known[j] else None
                for j in range(len(targets))]

    def _added(self, movie_ids, targets, decay, ratings):
        """([history movies, targets] what each distinct history movie adds to each target's
        score, its columns), or (None, None) when no history or no target is in the catalogue."""
        ids = list(movie_ids)
        where, known = self.columns(targets)
        cols, w = self._known(ids, profile_weights(len(ids), decay, ratings))
        if not known.any() or not len(cols):
            return None, None
        columns, at = np.unique(cols, return_inverse=True)     # a movie rated twice counts once, summed
        added = np.zeros((len(columns), len(targets)), np.float64)
        np.add.at(added, at, w[:, None] * self.weights[cols][:, np.where(known, where, 0)])
        return added, columns


def watch_totals(ease: Ease, groups, decay: float, liked: bool, ids=None) -> np.ndarray:
    """'Both will watch it' for each group of profiles ((movie ids, stars) pairs): the members'
    recency- (and, with `liked`, liking-) weighted EASE scores, summed: [groups, movies],
    float64. The groups' weighted profiles, summed per group, are the rows of one sparse matrix times B: only the
    rows of B a profile holds are read, with no copy of them (the ranking metrics score a
    thousand cases this way; the service one pair). ids: the movies wanted, in their order
    (0 for one outside the fit); the fit's own movies when None."""
    if ids is not None:
        cols, known = ease.columns(ids)
        out = np.zeros((len(groups), len(cols)))
        out[:, known] = watch_totals(ease, groups, decay, liked)[:, cols[known]]
        return out
    rows, cols, values = [], [], []
    for row, profiles in enumerate(groups):
        for ids, stars in profiles:
            ids = list(ids)
            where, w = ease._known(ids, profile_weights(len(ids), decay, stars if liked else None))
            rows.append(np.full(len(where), row)), cols.append(where), values.append(w)
    if not len(ease.movies):
        return np.zeros((len(groups), 0))
    x = sp.csr_matrix((np.concatenate(values) if values else np.zeros(0),
                       (np.concatenate(rows) if rows else np.zeros(0, np.int64),
                        np.concatenate(cols) if cols else np.zeros(0, np.int64))),
                      shape=(len(groups), len(ease.movies)))
    x.sum_duplicates()
    return np.asarray(x.astype(np.float32) @ ease.weights, dtype=np.float64)     # B stays float32: no copy


def standardised(scores, candidates=None) -> np.ndarray:
    """(scores - mean) / std over the candidates (every entry when None): the pair ranker's
    parts on one scale whatever a member's profile length, so that one weight fits everyone."""
    scores = np.asarray(scores, np.float64)
    part = scores if candidates is None else scores[candidates]
    if not part.size:
        return scores
    spread = part.std()
    return (scores - part.mean()) / (spread if spread > 0 else 1.0)


def mixed(ease_z: np.ndarray, sequence_z: np.ndarray | None, share: float) -> np.ndarray:
    """The watch score from its standardised parts: (1 - share) x EASE's + share x the sequence
    model's; EASE's alone without a sequence part or with share 0."""
    if sequence_z is None or not share:
        return ease_z
    return (1.0 - share) * ease_z + share * sequence_z


def best_positions(scores: np.ndarray, ids: np.ndarray, n: int) -> np.ndarray:
    """The positions of the n highest scores, ties by the lower id, in position order: how the
    service retrieves its candidates and the ranking metrics reproduce it."""
    return np.sort(np.lexsort((ids, -scores))[:n])


def liking(stars) -> np.ndarray:
    """How much a rating says the person liked the movie: 0 at one star (or a half star below it,
    in the releases with half stars), 1 at the highest."""
    return np.clip((np.asarray(stars, dtype=np.float64) - F.RATING_MIN) / (F.RATING_MAX - F.RATING_MIN), 0.0, 1.0)


def profile_weights(n: int, decay: float, ratings=None) -> np.ndarray:
    """decay^(n-1), ..., decay, 1 (oldest first), times liking(ratings) when given."""
    w = decay ** np.arange(n - 1, -1, -1, dtype=np.float64)
    return w * liking(ratings) if ratings is not None else w


@dataclasses.dataclass(frozen=True)
class RankerParams:
    """The pair ranker's settings (serving/ranking.py chooses them on eval; a pushed version
    carries them, serving/version_files.py). A default stands only for a field a version's
    file lacks (one added after the version was pushed)."""
    lam: float = 200.0
    decay: float = 0.99
    liked: bool = True
    rating_weight: float = 0.1
    single_rating_weight: float = 0.1     # for one person (the pair (A, A)), chosen on eval single rows
    # the sequence model's share of the watch score (trainer_fn/sequence.py), in [0, 1]:
    # (1 - w) x standardised EASE + w x its standardised pair score, where the model has it
    sequence_weight: float = 0.0
    # EASE fitted on at most this many of the most rated movies (Ease.fit); None: every rated
    # movie (the versions pushed before the bound)
    most_rated: int | None = None


@dataclasses.dataclass
class PairRanker:
    """What the service ranks by: watch (the members' recency-weighted EASE scores, summed and
    standardised over the candidates, mixed with the sequence model's pair score, the
    sum of the members' log p(movie | their sequence), standardised the same way, where the
    model has it) + rating_weight x the predicted pair rating."""
    ease: Ease
    params: RankerParams

    def watch(self, profiles: list, movie_ids, decay: float | None = None, liked: bool | None = None) -> np.ndarray:
        """The watch score of each of `movie_ids` for people with these profiles: Members
        (their .profile and .profile_ratings) or (movie ids, stars) pairs, oldest first.
        decay and liked: the params' unless given (decay=1, liked=False: plain EASE)."""
        decay = self.params.decay if decay is None else decay
        liked = self.params.liked if liked is None else liked
        pairs = [(p.profile, p.profile_ratings) if hasattr(p, "profile") else p for p in profiles]
        return watch_totals(self.ease, [pairs], decay, liked, movie_ids)[0]

    def blend(self, ease_scores, sequence_scores=None, candidates=None) -> np.ndarray:
        """The watch score: (1 - w) x standardised EASE + w x the standardised sequence score,
        w the sequence_weight (standardised over `candidates`, every entry when None); EASE
        alone without a sequence score."""
        sequence_z = standardised(sequence_scores, candidates) if sequence_scores is not None else None
        return mixed(standardised(ease_scores, candidates), sequence_z, self.params.sequence_weight)

    def weight(self, single: bool) -> float:
        """The rating weight for a pair, or for one person alone."""
        return self.params.single_rating_weight if single else self.params.rating_weight

    def score(self, watch, rating, single: bool = False):
        return watch + self.weight(single) * rating
