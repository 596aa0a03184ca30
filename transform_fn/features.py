"""The feature contract between the data stage, Transform and the Trainer.

Raw columns are what the prepared CSVs hold (and what a serving request sends);
transformed names are what preprocessing_fn emits and the model reads.
"""

SEQUENCE_LENGTH = 4          # window length: HISTORY_LENGTH history slots + the target
HISTORY_LENGTH = SEQUENCE_LENGTH - 1
MAX_GENRES = 4               # genres kept per movie
LIST_SEPARATOR = "|"
MAX_ACTORS = 3               # lead actors kept per movie
NO_GENRES = "(no genres listed)"   # written when a movie has none (an empty CSV field is "missing")

# Each member's latest ratings the row's baseline has not learnt from, and the target movie's
# by other users (data/windows.py recent_ratings): oldest first, left-padded to this width.
# 30 chosen on ML-100K's eval rows (seed 42, the Trainer's eval RMSE with its terms fitted
# there): 10 slots 0.7705, 30 slots 0.7690; a third of its test targets have more than 10
# such ratings of their user before them (mean 9, median 6), 4% more than 30.
RECENT_LENGTH = 30

SIDES = ("a", "b")           # the two users of a pair; (A, A) is a single-user example

# Split names: the data stage's folders, CsvExampleGen's splits, the Trainer's and the
# Evaluator's splits. Each user's ratings go to train, then eval, then test, in time.
TRAIN_SPLIT, EVAL_SPLIT, TEST_SPLIT = SPLITS = ("train", "eval", "test")
# Train cut at a rolling origin (data/windows.py split_in_time): each user's train ratings
# before it, and after it. ratings_by_split.csv's `period` column: one of these, eval or test.
EARLY_PERIOD, LATE_PERIOD = TRAIN_PERIODS = ("train_early", "train_late")
# The serving signature's output, read by the Evaluator, the report and the recommender.
PREDICTION_KEY = "predictions"
# MovieLens stars: served predictions are clipped to [the scale's floor, RATING_MAX]. The floor
# is RATING_MIN for the whole-star releases (ML-100K, ML-1M) and HALF_STAR_MIN for those with
# half stars (ML-10M on, ml-latest): rating_floor() tells them apart from the ratings read.
RATING_MIN, RATING_MAX = 1.0, 5.0
HALF_STAR_MIN = 0.5


def rating_floor(ratings) -> float:
    """The lowest star of the scale `ratings` (numbers) are on: HALF_STAR_MIN where any is a
    half star or below RATING_MIN, else RATING_MIN."""
    import numpy as np

    values = np.asarray(ratings, dtype=np.float64)
    return HALF_STAR_MIN if bool(np.any((values < RATING_MIN) | (values != np.floor(values)))) else RATING_MIN
# Names every layer reads, declared once here (the feature contract has no heavy imports).
PIPELINE_NAME = "movie-pair-recommender"   # PipelineConfig's default, MLMD's pipeline context
SERVING_DEFAULT = "serving_default"       # serialized raw tf.Examples -> predictions
RAW_SIGNATURE = "predict_raw"             # the same raw features as named tensors
PAIR_SIGNATURE = "predict_pair_raw"       # the same, the pair rating only (a third of predict_raw's work)
SEQUENCE_SIGNATURE = "watch_next"         # one person's history -> log p(next movie) over the vocabulary
SEQUENCE_INPUT = "history"                # its input: movie ids, '|'-joined, oldest first
SEQUENCE_OUTPUT = "log_probability"       # its output: [batch, movie vocabulary]
SERVING_FORMAT = "Format-Serving"         # the servable SavedModel inside a Trainer's model artifact
MANIFEST_FILE = "manifest.json"           # the data stage's manifest in a prepared folder
RATINGS_FILE = "ratings_by_split.csv"     # every kept rating with its split, in a prepared folder
# Beside a Trainer's model (in its artifact folder, outside Format-Serving): what data it learnt
# from, so that the gate compares a candidate only with a last blessed model of the same data.
DATA_IDENTITY_FILE = "data_identity.txt"
RANKING_FILE = "ranking.json"     # the ranking metrics and the pair ranker's settings chosen on eval
# A version folder's files beside its SavedModel (serving/version_files.py): ranking.json there
# says how the version ranks; a model no RankingEvaluator has seen says RATING_ONLY.
EXTRA_DIR = "assets.extra"
RATING_ONLY = "rating only"
# Per-epoch training history the Trainer writes beside the model (in its model_run folder).
HISTORY_FILE = "training_history.json"

LABEL = "label"
MOVIE = "movie"
MOVIE_GENRES = "movie_genres"
MOVIE_YEAR = "movie_year"
MOVIE_RUNTIME = "movie_runtime"     # minutes; 0 when IMDb has none
MOVIE_DIRECTOR = "movie_director"   # person code: 0 unknown, 1 other (rare), 2.. frequent
MOVIE_ACTORS = "movie_actors"       # MAX_ACTORS '|'-joined lead-actor codes, 0 in empty slots
MOVIE_IMDB_RATING = "movie_imdb_rating"   # 0 when IMDb has none
MOVIE_IMDB_VOTES = "movie_imdb_votes"     # 0 when IMDb has none


def user(side: str) -> str:
    return f"{side}_user"


def hist_movies(side: str) -> str:
    return f"{side}_hist_movies"     # '|'-joined movie ids, oldest first, '' in padded slots


def hist_ratings(side: str) -> str:
    return f"{side}_hist_ratings"    # '|'-joined ratings aligned with hist_movies


def recent_movies(side: str) -> str:
    return f"{side}_recent_movies"   # RECENT_LENGTH '|'-joined movie ids, '' in padded slots


def recent_ratings(side: str) -> str:
    return f"{side}_recent_ratings"  # aligned with recent_movies


def sex(side: str) -> str:
    return f"{side}_sex"


def age(side: str) -> str:
    return f"{side}_age"


def occupation(side: str) -> str:
    return f"{side}_occupation"


USER_COLUMNS = (user, hist_movies, hist_ratings, recent_movies, recent_ratings, sex, age, occupation)
# The target movie's latest ratings by other users that the row's baseline has not learnt
# from, before the target's second (for a pair, before the earlier member's target): who, and
# how many stars. RECENT_LENGTH '|'-joined slots each.
MOVIE_RATERS = "movie_raters"
MOVIE_RATER_RATINGS = "movie_rater_ratings"
# Evaluation-only columns: for slicing in TFMA; neither the model nor a serving request
# uses them (they are absent in the schema's SERVING environment, like the label).
EXAMPLE_KIND = "example_kind"            # "pair" (two users) or "single" (the pair (A, A))
HISTORY_PADDED = "history_padded"        # "padded" if either history has an empty slot, else "full"
MOVIE_PRIMARY_GENRE = "movie_primary_genre"
EVAL_ONLY = (EXAMPLE_KIND, HISTORY_PADDED, MOVIE_PRIMARY_GENRE)

RAW_COLUMNS = tuple(col(side) for side in SIDES for col in USER_COLUMNS) + (
    MOVIE, MOVIE_GENRES, MOVIE_YEAR, MOVIE_RUNTIME, MOVIE_DIRECTOR, MOVIE_ACTORS, MOVIE_IMDB_RATING,
    MOVIE_IMDB_VOTES, MOVIE_RATERS, MOVIE_RATER_RATINGS) + EVAL_ONLY + (LABEL,)

# Transformed feature names.
USER_IDX = "{side}_user_idx"
HIST_IDX = "{side}_hist_idx"
HIST_RATING = "{side}_hist_rating"
HIST_MASK = "{side}_hist_mask"
RECENT_IDX = "{side}_recent_idx"
RECENT_RATING = "{side}_recent_rating"
RECENT_MASK = "{side}_recent_mask"
RATER_IDX = "movie_rater_idx"          # the raters, in the user vocabulary
RATER_RATING = "movie_rater_rating"
RATER_MASK = "movie_rater_mask"
SEX_IDX = "{side}_sex_idx"
AGE_IDX = "{side}_age_idx"
OCCUPATION_IDX = "{side}_occupation_idx"
MOVIE_IDX = "movie_idx"
GENRE_IDX = "movie_genre_idx"
YEAR_Z = "movie_year_z"
RUNTIME_Z = "movie_runtime_z"
RUNTIME_KNOWN = "movie_runtime_known"
DIRECTOR_IDX = "movie_director_idx"
ACTOR_IDX = "movie_actor_idx"
IMDB_RATING_Z = "movie_imdb_rating_z"
IMDB_VOTES_Z = "movie_imdb_votes_z"         # z-score of log(1 + votes)
IMDB_KNOWN = "movie_imdb_known"

# Vocabulary files written by Transform: one per entity, shared by both users.
USER_VOCAB = "user_vocab"
MOVIE_VOCAB = "movie_vocab"
SEX_VOCAB = "sex_vocab"
AGE_VOCAB = "age_vocab"
OCCUPATION_VOCAB = "occupation_vocab"
GENRE_VOCAB = "genre_vocab"
DIRECTOR_VOCAB = "director_vocab"
ACTOR_VOCAB = "actor_vocab"
OOV_BUCKETS = 1


def embedding_rows(vocabulary_size: int) -> int:
    """Rows an embedding table needs for lookup results: padding 0, the vocabulary, OOV buckets."""
    return vocabulary_size + 1 + OOV_BUCKETS
