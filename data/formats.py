"""Constants of the raw formats: the MovieLens releases' files and codes, and the IMDb files we read."""

# MovieLens 1M README: the 18 genres, the age groups and the occupations.
ML_GENRES = (
    "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical",
    "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
)
# Age group code -> lower bound of the range it stands for ("1" means under 18).
ML_AGE_GROUPS = (1, 18, 25, 35, 45, 50, 56)
ML_OCCUPATIONS = tuple(range(21))
ML_GENDERS = ("F", "M")

# The later releases (ML-10M, ML-20M, ML-25M, ml-latest) add the genre IMAX, spell Children's
# as Children, and write "(no genres listed)" for a movie without genres.
KNOWN_GENRES = ML_GENRES + ("IMAX",)
GENRE_ALIASES = {"Children": "Children's"}
NO_GENRES_LISTED = "(no genres listed)"

# The releases after ML-1M have no users.dat: every user of such a release gets these values,
# one bucket the Transform's vocabularies and the model take like any other value. Occupation
# 0 is ML-1M's own "other or not specified"; sex U and age 0 are no ML-1M code.
UNKNOWN_SEX, UNKNOWN_AGE, UNKNOWN_OCCUPATION = "U", 0, 0

# One rating rule for every release: whole or half stars from 0.5 to 5 (ML-1M and ML-100K
# use whole stars only, ML-10M and later half stars too). Never rounded.
RATING_LOW, RATING_HIGH, RATING_STEP = 0.5, 5.0, 0.5

# IMDb spells some MovieLens genres differently.
ML_TO_IMDB_GENRE = {"Children's": "Family", "Film-Noir": "Film-Noir", "Sci-Fi": "Sci-Fi"}

ML1M_FILES = ("users.dat", "movies.dat", "ratings.dat")
ML10M_FILES = ("movies.dat", "ratings.dat")          # `::`-separated like ML-1M, no users.dat
CSV_FILES = ("movies.csv", "ratings.csv")            # ML-20M, ML-25M, ml-latest(-small); links.csv beside
RATINGS_CSV_HEADER = "userId,movieId,rating,timestamp"
MOVIES_CSV_HEADER = "movieId,title,genres"
# Folder names the releases unzip to: ML-10M's is ml-10M100K.
ML10M_DIRS = ("ml-10M100K", "ml-10m")
CSV_RELEASES = ("ml-20m", "ml-25m", "ml-latest-small", "ml-latest")
IMDB_FILES = (
    "title.basics.tsv.gz", "title.ratings.tsv.gz", "title.crew.tsv.gz",
    "title.principals.tsv.gz", "name.basics.tsv.gz",
)
IMDB_MISSING = "\\N"
