"""The service's request bodies and its bounds, as FastAPI validates and documents them.

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
    rating: float = Field(ge=1, le=5, allow_inf_nan=False, description="stars, 1 to 5")


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
