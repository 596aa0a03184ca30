import pytest

from data import movielens


@pytest.mark.parametrize("raw, title, year", [
    ("American President, The (1995)", "The American President", 1995),
    ("Toy Story (1995)", "Toy Story", 1995),
    ("City of Lost Children, The (1995)", "The City of Lost Children", 1995),
    ("Misérables, Les (1995)", "Les Misérables", 1995),
    ("No Year Given", "No Year Given", 0),
])
def test_split_title(raw, title, year):
    assert movielens.split_title(raw) == (title, year)


def test_reads_latin1_movies(tmp_path):
    path = tmp_path / "movies.dat"
    path.write_bytes("1::Misérables, Les (1995)::Drama|Musical\n2::Toy Story (1995)::Animation|Children's|Comedy\n"
                     .encode("latin-1"))
    movies = movielens.read_movies(path)
    assert movies["title"].tolist() == ["Les Misérables", "Toy Story"]
    assert movies["ml_genres"].tolist() == ["Drama|Musical", "Animation|Children's|Comedy"]


def test_bad_line_names_file_and_line(tmp_path):
    path = tmp_path / "ratings.dat"
    path.write_text("1::10::5::978300760\n1::11::4\n")
    with pytest.raises(movielens.RawDataError, match=r"ratings.dat:2: expected 4"):
        movielens.read_ratings(path)


def test_rating_out_of_range_names_line(tmp_path):
    path = tmp_path / "ratings.dat"
    path.write_text("1::10::5::978300760\n1::11::4::978300761\n2::10::9::978300762\n")
    with pytest.raises(movielens.RawDataError, match=r"ratings.dat:3: rating 9"):
        movielens.read_ratings(path)


def test_unknown_code_names_line(tmp_path):
    path = tmp_path / "users.dat"
    path.write_text("1::F::1::10::48067\n2::M::17::16::70072\n")
    with pytest.raises(movielens.RawDataError, match=r"users.dat:2: age 17"):
        movielens.read_users(path)
