"""Constants of the raw formats: MovieLens 1M codes and the IMDb files we read."""

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

# IMDb spells some MovieLens genres differently.
ML_TO_IMDB_GENRE = {"Children's": "Family", "Film-Noir": "Film-Noir", "Sci-Fi": "Sci-Fi"}

ML1M_FILES = ("users.dat", "movies.dat", "ratings.dat")
IMDB_FILES = (
    "title.basics.tsv.gz", "title.ratings.tsv.gz", "title.crew.tsv.gz",
    "title.principals.tsv.gz", "name.basics.tsv.gz",
)
IMDB_MISSING = "\\N"
