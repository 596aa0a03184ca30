"""The service's request and response bodies and its bounds, as FastAPI validates and documents them.

Imported by serving/serve.py when the app is built (pydantic is not needed for --help).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_N = 100                     # longest list a request may ask for
MAX_RATINGS = 1000              # ratings a member may send
MAX_ID = 10**9 - 1              # ids are at most 9 digits
Strategy = Literal["average", "least_misery"]


class Rating(BaseModel):
    model_config = ConfigDict(extra="forbid")
    movie: int = Field(ge=0, le=MAX_ID, description="MovieLens movie id")
    rating: float = Field(ge=0.5, le=5, allow_inf_nan=False,
                          description="stars, 0.5 to 5 (whole stars in ML-100K and ML-1M, half stars from ML-10M on)")


class MemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user: int | None = Field(None, ge=0, le=MAX_ID,
                             description="a known user id (fresher ratings are added to theirs); "
                                         "absent or unknown: a new person")
    sex: Literal["M", "F"] | None = Field(None, description="needed for a new person")
    age: int | None = Field(None, ge=0, le=120, description="MovieLens age band (1, 18, 25, 35, 45, 50, 56); "
                                                            "needed for a new person")
    occupation: int | None = Field(None, ge=0, le=20, description="MovieLens occupation code 0-20; "
                                                                  "needed for a new person")
    ratings: list[Rating] = Field(default_factory=list, max_length=MAX_RATINGS,
                                  description="recent ratings, oldest first")


class RecommendationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    members: list[MemberIn] = Field(min_length=1, max_length=2, description="one or two people")
    n: int = Field(10, ge=1, le=MAX_N)
    strategy: Strategy = "average"
    diversify: bool = False


EXAMPLE = {"members": [{"user": 1, "ratings": [{"movie": 10, "rating": 5}]},
                       {"sex": "F", "age": 25, "occupation": 4,
                        "ratings": [{"movie": 20, "rating": 4}, {"movie": 30, "rating": 2}]}],
           "n": 10, "strategy": "least_misery", "diversify": True}


# ---------------------------------------------------------------- responses
# Every response body, so that the OpenAPI schema (/openapi.json, /docs) describes each one.
# The bodies serving/recommend.py builds allow fields beyond these (one it adds is kept, not
# dropped), the service's own are closed.

RankerName = Literal["pair ranker", "rating only"]
RANKER_DESCRIPTION = ("what the list is ranked by: 'pair ranker' (the settings the version carries, chosen on "
                      "eval) or 'rating only' (the predicted rating alone: the version was pushed by a run "
                      "with --no-ranking, and its folder says so)")


class ValidationIssue(BaseModel):
    loc: list[str | int] = Field(description="where: 'query' or 'body' and the field")
    msg: str
    type: str


class FailedVersion(BaseModel):
    version: str
    error: str = Field(description="why it did not load (no file-system paths)")
    failed_at: str = Field(description="when it last failed (UTC, ISO 8601); retried only when its folder changes")


class ErrorDetail(BaseModel):
    code: str = Field(description="machine-readable: bad_request, not_found, unknown_user, unknown_movie, "
                                  "unknown_version, method_not_allowed, body_timeout, body_too_large, "
                                  "unsupported_media_type, invalid_request, internal, no_model, busy")
    message: str = Field(description="what is wrong, in words")
    errors: list[ValidationIssue] | None = Field(None, description="invalid_request: each problem (at most 10)")
    failed_versions: list[FailedVersion] | None = Field(None, description="no_model: versions that failed to load")


class ErrorResponse(BaseModel):
    """Every 4xx and 5xx answer."""
    error: ErrorDetail


class Health(BaseModel):
    model_config = ConfigDict(protected_namespaces=())
    status: Literal["ok"]
    model_loaded: bool
    model_version: str | None


class Ready(BaseModel):
    model_config = ConfigDict(protected_namespaces=())
    status: Literal["ready"]
    model_version: str
    ranker: RankerName = Field(description=RANKER_DESCRIPTION)


class MemberRating(BaseModel):
    model_config = ConfigDict(extra="allow")
    user: int | None = Field(description="null: a new person (POST)")
    predicted_rating: float


class Item(BaseModel):
    model_config = ConfigDict(extra="allow")
    rank: int
    movie: int
    title: str
    year: int | None
    genres: list[str]
    pair_rating: float = Field(description="the pair's predicted rating, stars")
    member_ratings: list[MemberRating]
    score: float = Field(description="what the list is ordered by (the ranker's score, or the strategy's rating)")
    reason: str


class GenreSpread(BaseModel):
    model_config = ConfigDict(extra="allow")
    distinct_genres: int
    genre_counts: dict[str, int]
    mean_pairwise_genre_dissimilarity: float


class Recommendations(BaseModel):
    model_config = ConfigDict(extra="allow", protected_namespaces=())
    users: list[int | None] = Field(description="the members' ids; null for a new person (POST)")
    model_version: str
    ranker: RankerName = Field(description=RANKER_DESCRIPTION)
    mode: Literal["pair", "single"]
    strategy: Strategy
    diversify: bool
    candidates: int = Field(description="how many unseen movies were ranked (each with its watch score under the "
                                        "pair ranker; the pair rating only where it could reach the list)")
    items: list[Item]
    genre_spread: GenreSpread


class Prediction(BaseModel):
    model_config = ConfigDict(extra="allow", protected_namespaces=())
    users: list[int]
    movie: int
    title: str
    model_version: str
    ranker: RankerName = Field(description=RANKER_DESCRIPTION)
    pair_rating: float
    member_ratings: list[MemberRating]
    already_rated_by: list[int]
    reason: str


class RankerSettings(BaseModel):
    model_config = ConfigDict(extra="allow")
    lam: float
    decay: float
    liked: bool
    rating_weight: float
    single_rating_weight: float
    sequence_weight: float


class RankingCheck(BaseModel):
    data: str | None = Field(description="the prepared data it was evaluated on")
    passed: bool | None
    peer: str | None = Field(description="the best peer ranker it was compared with")
    ndcg_difference_low: float | None
    ndcg_difference_high: float | None
    rule: str | None


class ModelInfo(BaseModel):
    model_config = ConfigDict(protected_namespaces=())
    version: str
    run_id: str | None = Field(description="the pipeline run that pushed it (MLMD), null without a record")
    data: str = Field(description="the prepared data's folder name")
    data_fingerprint: str | None = Field(description="first 16 hex digits of the SHA-256 of its manifest.json")
    model_fingerprint: str | None = Field(description="first 16 hex digits of the SHA-256 of saved_model.pb")
    rmse: dict[str, float | None] | None = Field(description="test RMSE of the model and the baseline (MLMD)")
    rmse_split: str | None
    pushed_at: str | None
    loaded_at: str | None
    mlmd: Literal["read", "unavailable"]
    has_attention: bool
    ranker: RankerName = Field(description=RANKER_DESCRIPTION)
    ranker_settings: RankerSettings | None = Field(
        description="the pair ranker's settings, from the version folder's assets.extra/ranking.json")
    ranking_check: RankingCheck | None = Field(description="the ranking evaluation the version carries")
    failed_versions: list[FailedVersion] = Field(description="versions present that failed to load")
