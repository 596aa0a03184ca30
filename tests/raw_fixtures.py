"""The one builder of hand-written raw files in the real MovieLens 1M, MovieLens 100K and
IMDb formats (generated data at scale comes from data/synthetic.py, conftest's tiny_raw).

Invented rows, a few lines each, with the problems real dumps have: latin-1 titles,
alternate titles, '\\N' values, duplicates and malformed lines; and a clean grid (every
user rates every movie) for the cases that spoil one file at a time. Written to a
temporary folder by write_*(), never kept as data files in the repository.
"""

import gzip
from pathlib import Path

ML1M_USERS = (
    "1::F::1::10::48067\n"
    "2::M::56::16::70072\n"
    "3::M::25::15::55117\n"
    "4::X::45::7::02460\n"            # bad sex code
    "3::M::25::15::55117\n"           # duplicate user id
)
ML1M_MOVIES = (
    "1::Toy Story (1995)::Animation|Children's|Comedy\n"
    "2::Misérables, Les (1995)::Drama|Musical\n"
    "3::City of Lost Children, The (Cité des enfants perdus, La) (1995)::Adventure|Sci-Fi\n"
    "4::American President, The (1995)::Comedy|Drama|Romance|Slapstick\n"   # unknown genre
    "5::Broken line without genres\n"                                        # malformed
)
ML1M_RATINGS = (
    "1::1::5::978300760\n"
    "1::2::3::978300761\n"
    "1::3::4::978300762\n"
    "1::4::2::978300763\n"
    "2::1::4::978300800\n"
    "2::2::9::978300801\n"            # rating outside 0.5..5
    "2::3::x::978300802\n"            # not a number
    "2::4::3::978300803\n"
    "2::4::5::978300900\n"            # the same movie again, later: kept, the earlier one dropped
    "3::1::2::978300700\n"
    "3::99::3::978300701\n"           # unknown movie
    "7::1::3::978300702\n"            # unknown user
    "3::2::4\n"                       # missing field
)

ML100K_USER = "1|24|M|technician|85711\n2|53|F|other|94043\n3|17|M|student|32067\n4|60|F|librarian|10003\n"
_FLAGS = lambda on: "|".join("1" if i in on else "0" for i in range(19))  # noqa: E731
ML100K_ITEM = (
    f"1|Toy Story (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?Toy%20Story%20(1995)|{_FLAGS({3, 4, 5})}\n"
    f"2|GoldenEye (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?GoldenEye%20(1995)|{_FLAGS({1, 2, 16})}\n"
    f"3|unknown||||{_FLAGS({0})}\n"
)
ML100K_DATA = "1\t1\t5\t874965758\n1\t2\t3\t876893171\n2\t1\t4\t888550871\n3\t2\t1\t888552084\n4\t3\t3\t888552099\n"

N = "\\N"
TITLE_BASICS = [
    ["tconst", "titleType", "primaryTitle", "originalTitle", "isAdult", "startYear", "endYear", "runtimeMinutes", "genres"],
    ["tt0114709", "movie", "Toy Story", "Toy Story", "0", "1995", N, "81", "Animation,Adventure,Comedy"],
    ["tt0113828", "movie", "Les Misérables", "Les Misérables", "0", "1995", N, N, "Drama"],          # runtime missing
    ["tt0112682", "movie", "The City of Lost Children", "La cité des enfants perdus", "0", "1995", N, "112", "Fantasy,Sci-Fi"],
    ["tt0112346", "movie", "The American President", "The American President", "0", "1996", N, "114", "Comedy,Drama,Romance"],  # year off by one
    ["tt9999999", "tvEpisode", "Toy Story", "Toy Story", "0", "1995", N, "22", "Animation"],        # not a movie
]
TITLE_RATINGS = [["tconst", "averageRating", "numVotes"], ["tt0114709", "8.3", "1100000"], ["tt0112682", "7.5", "70000"]]
TITLE_CREW = [["tconst", "directors", "writers"], ["tt0114709", "nm0005124", "nm0004056"],
              ["tt0112682", "nm0000123,nm0000124", N], ["tt0112346", "nm0005124", N], ["tt0113828", N, N]]
TITLE_PRINCIPALS = [
    ["tconst", "ordering", "nconst", "category", "job", "characters"],
    ["tt0114709", "1", "nm0000158", "actor", N, '["Woody"]'],
    ["tt0114709", "2", "nm0000741", "actor", N, '["Buzz"]'],
    ["tt0112346", "1", "nm0000158", "actor", N, N],
    ["tt0112682", "1", "nm0000321", "actor", N, N],
]
NAME_BASICS = [["nconst", "primaryName", "birthYear", "deathYear", "primaryProfession", "knownForTitles"],
               ["nm0005124", "John Lasseter", "1957", N, "director", "tt0114709"],
               ["nm0000158", "Tom Hanks", "1956", N, "actor", "tt0114709"]]


def write_tsv_gz(path: Path, rows) -> None:
    """One IMDb-format file: tab-separated rows, gzip-compressed."""
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("".join("\t".join(r) + "\n" for r in rows))


def write_imdb(root: Path, names=("title.basics", "title.ratings", "title.crew", "title.principals",
                                  "name.basics")) -> Path:
    """The hand-written IMDb files `names` (all by default) under root/imdb."""
    tables = {"title.basics": TITLE_BASICS, "title.ratings": TITLE_RATINGS, "title.crew": TITLE_CREW,
              "title.principals": TITLE_PRINCIPALS, "name.basics": NAME_BASICS}
    (root / "imdb").mkdir(parents=True, exist_ok=True)
    for name in names:
        write_tsv_gz(root / "imdb" / f"{name}.tsv.gz", tables[name])
    return root


# A clean grid in the ML-1M format: GRID_USERS users who each rate every one of GRID_MOVIES
# movies in the same order, so that every split holds pairs; the cases that spoil one file
# (tests/test_bad_input.py) start from it.
GRID_USERS, GRID_MOVIES = 6, 20
GRID_T0 = 978_300_000


def grid_users(n=GRID_USERS) -> str:
    ages = (1, 18, 25, 35, 45, 50, 56)
    return "".join(f"{u}::{'FM'[u % 2]}::{ages[u % 7]}::{u % 21}::{10000 + u}\n" for u in range(1, n + 1))


def grid_movies() -> str:
    genres = ("Comedy", "Drama|Romance", "Action|Sci-Fi", "Animation|Children's")
    rows = [f"{m}::Film number {m} (19{70 + m})::{genres[m % 4]}\n" for m in range(1, GRID_MOVIES + 1)]
    rows[1] = "2::Misérables, Les (1995)::Drama|Musical\n"
    return "".join(rows)


def grid_ratings(users=GRID_USERS) -> str:
    return "".join(f"{u}::{m}::{(u + m) % 5 + 1}::{GRID_T0 + 100 * m + u}\n"
                   for u in range(1, users + 1) for m in range(1, GRID_MOVIES + 1))


def write_ml1m(root: Path, imdb: bool = True, links: bool = False, users=None, movies=None, ratings=None,
               encoding: str = "latin-1") -> Path:
    """root/ml-1m/{users,movies,ratings}.dat: the hand-written rows above (with their problems)
    unless the text (str or bytes) of a file is given; IMDb files and links.csv on request."""
    (root / "ml-1m").mkdir(parents=True, exist_ok=True)
    for name, text in (("users.dat", ML1M_USERS if users is None else users),
                       ("movies.dat", ML1M_MOVIES if movies is None else movies),
                       ("ratings.dat", ML1M_RATINGS if ratings is None else ratings)):
        (root / "ml-1m" / name).write_bytes(text if isinstance(text, bytes) else text.encode(encoding))
    if imdb:
        write_imdb(root)
    if links:
        (root / "links.csv").write_text("movieId,imdbId,tmdbId\n1,0114709,862\n2,0113828,\n3,0112682,902\n")
    return root


def write_grid(root: Path, users=None, movies=None, ratings=None, encoding: str = "latin-1") -> Path:
    """The clean grid in the ML-1M format, a file's text replaced where one is given; no IMDb."""
    return write_ml1m(root, imdb=False, users=grid_users() if users is None else users,
                      movies=grid_movies() if movies is None else movies,
                      ratings=grid_ratings() if ratings is None else ratings, encoding=encoding)


def write_ml100k(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in (("u.user", ML100K_USER), ("u.item", ML100K_ITEM), ("u.data", ML100K_DATA)):
        (root / name).write_bytes(text.encode("latin-1"))
    return root


# ------------------------------------------------------------------ the later releases
# ML-10M (ml-10M100K/: movies.dat and ratings.dat with `::`, no users.dat, half stars, a
# tags.dat that is not read) and the CSV releases (ml-latest-small/ here: ratings.csv and
# movies.csv with header lines, titles in double quotes where they hold a comma, CRLF line
# ends in some copies, links.csv). A grid again (every user rates every movie, in the same
# order) so that the data stage finds pairs in every split; the stars run through every half
# step from 0.5 to 5.
HALF_USERS, HALF_MOVIES = 5, 12        # 60 ratings


def half_stars(u: int, m: int) -> str:
    """The grid's rating of movie m by user u, as the later releases write it: '3.5', '4.0'."""
    return f"{((u + m) % 10 + 1) / 2:.1f}"


def half_star_grid(sep: str, users=HALF_USERS) -> list[str]:
    return [sep.join([str(u), str(m), half_stars(u, m), str(GRID_T0 + 100 * m + u)])
            for u in range(1, users + 1) for m in range(1, HALF_MOVIES + 1)]


ML10M_MOVIES = (
    "1::Toy Story (1995)::Adventure|Animation|Children|Comedy|Fantasy\n"
    "2::American President, The (1995)::Comedy|Drama|Romance\n"
    "3::City of Lost Children, The (Cité des enfants perdus, La) (1995)::Adventure|Drama|Fantasy|Mystery|Sci-Fi\n"
    "4::Shawshank Redemption, The (1994)::Drama\n"
    "5::Dark Knight, The (2008)::Action|Crime|Drama|IMAX\n"
    "6::Heat (1995)::Action|Crime|Thriller\n"
    "7::Pull My Daisy (1958)::(no genres listed)\n"
    "8::Misérables, Les (1995)::Drama|War\n"
    "9::Fargo (1996)::Comedy|Crime|Drama|Thriller\n"
    "10::Casablanca (1942)::Drama|Romance|War\n"
    "11::Alien (1979)::Horror|Sci-Fi\n"
    "12::Clerks (1994)::Comedy\n"
)
# Bad lines after the grid: a quarter star, a zero, a rating past 5 (all rejected with line).
ML10M_BAD = ("1::1::3.25::978309999", "2::1::0.0::978309999", "3::1::5.5::978309999")
ML10M_TAGS = "1::1::pixar::978300760\n2::5::dark::978300761\n"


def write_ml10m(root: Path, movies: str = ML10M_MOVIES, ratings: str | None = None, crlf: bool = False) -> Path:
    """root/ml-10M100K/{movies,ratings,tags}.dat (movies.dat in UTF-8, as ML-10M's is)."""
    folder = root / "ml-10M100K"
    folder.mkdir(parents=True, exist_ok=True)
    if ratings is None:
        ratings = "".join(line + "\n" for line in half_star_grid("::") + list(ML10M_BAD))
    for name, text in (("movies.dat", movies), ("ratings.dat", ratings), ("tags.dat", ML10M_TAGS)):
        (folder / name).write_bytes((text.replace("\n", "\r\n") if crlf else text).encode("utf-8"))
    return root


ML_LATEST_MOVIES = (
    "movieId,title,genres\n"
    "1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy\n"
    '2,"American President, The (1995)",Comedy|Drama|Romance\n'
    '3,"City of Lost Children, The (Cité des enfants perdus, La) (1995)",Adventure|Drama|Fantasy|Mystery|Sci-Fi\n'
    '4,"Shawshank Redemption, The (1994)",Crime|Drama\n'
    "5,Avatar (2009),Action|Adventure|Sci-Fi|IMAX\n"
    '6,"""Great Performances"" Cats (1998)",Musical\n'         # quotes inside quotes, doubled
    "7,Pull My Daisy (1958),(no genres listed)\n"
    '8,"Misérables, Les (1995)",Drama|War\n'
    "9,Fargo (1996),Comedy|Crime|Drama|Thriller\n"
    "10,Babylon 5,Sci-Fi\n"                                   # no year in the title
    "11,Alien (1979),Horror|Sci-Fi\n"
    "12,Clerks (1994),Comedy\n"
    "13,Broken line without genres\n"                        # malformed: 2 fields
)
ML_LATEST_BAD = ("1,1,3.3,978309999", "2,1,five,978309999")
ML_LATEST_LINKS = "movieId,imdbId,tmdbId\n1,0114709,862\n2,0112346,9087\n3,0112682,902\n5,0499549,19995\n"
ML_LATEST_TAGS = "userId,movieId,tag,timestamp\n1,1,pixar,978300760\n"


def write_ml_latest_small(root: Path, crlf: bool = True, ratings: str | None = None) -> Path:
    """root/ml-latest-small/{ratings,movies,links,tags}.csv, CRLF line ends by default."""
    folder = root / "ml-latest-small"
    folder.mkdir(parents=True, exist_ok=True)
    if ratings is None:
        ratings = "".join(line + "\n" for line in ["userId,movieId,rating,timestamp", *half_star_grid(","),
                                                   *ML_LATEST_BAD])
    for name, text in (("movies.csv", ML_LATEST_MOVIES), ("ratings.csv", ratings), ("links.csv", ML_LATEST_LINKS),
                       ("tags.csv", ML_LATEST_TAGS)):
        (folder / name).write_bytes((text.replace("\n", "\r\n") if crlf else text).encode("utf-8"))
    return root
