"""Bad input, faults and concurrent runs against the data stage's command line.

Each case writes small raw files in the real formats (MovieLens 1M `::`-separated latin-1,
MovieLens 100K tab/pipe-separated, links.csv, IMDb .tsv.gz), spoils them the way a user's
files get spoiled, runs `python -m data.cli` in-process and checks what the user gets:
the exit code, the message naming file and line, and that no line is lost: every input
line is either kept or in rejects.csv (input lines = kept + rejected). Nothing here runs
the pipeline.
"""

from __future__ import annotations

import errno
import fcntl
import gzip
import hashlib
import io
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from data import cli, download, outdir, prepare
from data.download import Remote
from runners import run_local
from tests import raw_fixtures

N_USERS, N_MOVIES, T0 = raw_fixtures.GRID_USERS, raw_fixtures.GRID_MOVIES, raw_fixtures.GRID_T0
users_dat, movies_dat, ratings_dat = raw_fixtures.grid_users, raw_fixtures.grid_movies, raw_fixtures.grid_ratings
write_raw = raw_fixtures.write_grid
RATINGS_LINES = N_USERS * N_MOVIES


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    try:
        cli.main([str(a) for a in argv])
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def prepare_cli(capsys, raw: Path, out: Path, *extra) -> tuple[int, str, str]:
    return run_cli(capsys, "prepare", "--raw", raw, "--out", out, *extra)


def assert_conserved(raw: Path, out: Path) -> dict:
    """Every line of every input file is kept or rejected, by the manifest and by rejects.csv."""
    manifest = json.loads((out / "manifest.json").read_text())
    rejects = pd.read_csv(out / "rejects.csv", dtype={"text": str}, keep_default_na=False)
    for name, info in manifest["files"].items():
        path = next(raw.rglob(name))
        text = path.read_bytes()
        lines = text.count(b"\n") + (0 if text.endswith(b"\n") or not text else 1)
        if name == "links.csv":
            lines -= 1                                               # the header
        dropped = int(((rejects["file"] == name) & (rejects["action"] == "dropped")).sum())
        assert info["lines"] == lines, name
        assert info["kept"] + info["dropped"] == lines, (name, info)
        assert info["dropped"] == dropped, name
    counts = manifest["counts"]
    assert manifest["files"]["ratings.dat"]["kept"] == sum(counts["ratings_per_split"].values())
    assert manifest["files"]["users.dat"]["kept"] == counts["users"]
    assert manifest["files"]["movies.dat"]["kept"] == counts["movies"]
    return manifest


def rejects_of(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "rejects.csv", dtype={"text": str}, keep_default_na=False)


# ------------------------------------------------------------------ one bad line in ratings.dat

BAD_RATING_LINES = {
    "quarter star": ("1::1::3.25::978300760", "rating is not a whole or half star"),
    "almost five": ("1::2::4.9::978300760", "rating is not a whole or half star"),
    "half star written long": ("1::2::4.55::978300760", "rating is not a whole or half star"),
    "infinite rating": ("1::3::inf::978300760", "rating is not a number"),
    "nan rating": ("1::4::nan::978300760", "rating is not a number"),
    "rating in exponent form": ("1::4::4e0::978300760", "rating is not a number"),
    "empty rating": ("1::5::::978300760", "missing value in rating"),
    "rating zero": ("1::6::0::978300760", "rating outside 0.5..5"),
    "half star below the scale": ("1::6::0.0::978300760", "rating outside 0.5..5"),
    "rating six": ("1::7::6::978300760", "rating outside 0.5..5"),
    "half star above the scale": ("1::7::5.5::978300760", "rating outside 0.5..5"),
    "negative rating": ("1::8::-3::978300760", "rating outside 0.5..5"),
    "rating in words": ("1::9::five::978300760", "rating is not a number"),
    "fractional user id": ("1.7::1::4::978300760", "user_id is not an integer"),
    "user id past 64 bits": (f"{2**64 + 1}::1::4::978300760", "user_id out of range (more than 64 bits)"),
    "user id of 2**63": (f"{2**63}::1::4::978300760", "user_id out of range (more than 64 bits)"),
    "user id past 32 bits": ("3000000000::1::4::978300760", "user_id out of range 1..2147483647"),
    "user id zero": ("0::1::4::978300760", "user_id out of range"),
    "movie id = padding": ("1::-1::4::978300760", "movie_id -1 is the padding value"),
    "movie id in exponent form": ("1::1e1::4::978300760", "movie_id is not an integer"),
    "timestamp past 64 bits": (f"1::1::4::{2**64 + 5}", "timestamp out of range (more than 64 bits)"),
    "negative timestamp": ("1::1::4::-5", "timestamp out of range"),
    "timestamp after 2100": ("1::1::4::99999999999", "timestamp out of range"),
    "fractional timestamp": ("1::1::4::978300760.5", "timestamp is not an integer"),
    "too few fields": ("1::2::3", "expected 4 fields"),
    "too many fields": ("1::2::3::978300760::x", "expected 4 fields"),
    "comma separated": ("1,2,3,978300760", "expected 4 fields"),
    "blank line": ("", "blank line"),
    "spaces only": ("   ", "blank line"),
    "unknown user": ("99::1::4::978300760", "unknown user: user_id not in users.dat"),
    "unknown movie": ("1::999::4::978300760", "unknown movie: movie_id not in movies.dat"),
}


@pytest.mark.parametrize("case", sorted(BAD_RATING_LINES))
def test_a_bad_ratings_line_is_rejected_with_file_line_and_reason(case, tmp_path, capsys):
    line, reason = BAD_RATING_LINES[case]
    raw = write_raw(tmp_path / "raw", ratings=ratings_dat() + line + "\n")
    bad_line = RATINGS_LINES + 1
    code, stdout, stderr = prepare_cli(capsys, raw, tmp_path / "out")
    assert code == 0, stderr
    manifest = assert_conserved(raw, tmp_path / "out")
    rejects = rejects_of(tmp_path / "out")
    row = rejects[(rejects["file"] == "ratings.dat") & (rejects["line"] == bad_line)]
    assert len(row) == 1 and reason in row["reason"].iloc[0], rejects.tail()
    assert len(rejects) == 1                                            # nothing else touched
    assert manifest["files"]["ratings.dat"]["kept"] == RATINGS_LINES
    assert f"ratings.dat: {row['reason'].iloc[0]}" in json.loads(stdout)["dropped"]

    code, _, stderr = prepare_cli(capsys, raw, tmp_path / "strict", "--strict")
    assert code == 2
    assert f"ratings.dat:{bad_line}: {reason}" in stderr and "Traceback" not in stderr
    assert not (tmp_path / "strict").exists()


def test_a_rating_is_never_rounded_truncated_or_wrapped(tmp_path, capsys):
    bad = ["1::1::3.25::978300760", "2::1::4.9::978300760", "1.7::2::4::978300760",
           f"{2**64 + 1}::3::4::978300760", f"1::4::4::{2**64 + 978300760}"]
    raw = write_raw(tmp_path / "raw", ratings=ratings_dat() + "".join(b + "\n" for b in bad))
    assert prepare_cli(capsys, raw, tmp_path / "out")[0] == 0
    kept = pd.read_csv(tmp_path / "out" / "ratings_by_split.csv")
    assert len(kept) == RATINGS_LINES and kept["rating"].isin([1, 2, 3, 4, 5]).all()
    assert sorted(kept["user_id"].unique()) == list(range(1, N_USERS + 1))     # no user 1 from 1.7, none merged
    original = {(u, m): (u + m) % 5 + 1 for u in range(1, N_USERS + 1) for m in range(1, N_MOVIES + 1)}
    assert {(u, m): r for u, m, r in zip(kept["user_id"], kept["movie_id"], kept["rating"])} == original
    assert len(rejects_of(tmp_path / "out")) == len(bad)


def test_a_later_duplicate_rating_replaces_the_earlier_one_and_says_so(tmp_path, capsys):
    raw = write_raw(tmp_path / "raw", ratings=ratings_dat() + f"1::1::1::{T0 + 99_999}\n")
    assert prepare_cli(capsys, raw, tmp_path / "out")[0] == 0
    assert_conserved(raw, tmp_path / "out")
    rejects = rejects_of(tmp_path / "out")
    assert rejects[["line", "reason"]].values.tolist() == [[1, "duplicate rating of the same movie (kept the latest)"]]


def test_crlf_line_ends_are_read_like_lf(tmp_path, capsys):
    raw = write_raw(tmp_path / "raw", ratings=ratings_dat().replace("\n", "\r\n"))
    assert prepare_cli(capsys, raw, tmp_path / "out")[0] == 0
    manifest = assert_conserved(raw, tmp_path / "out")
    assert manifest["files"]["ratings.dat"]["kept"] == RATINGS_LINES and manifest["dropped"] == {}


# ------------------------------------------------------------------ users.dat and movies.dat

BAD_OTHER_LINES = {
    "sex code": ("users.dat", "7::X::25::3::12345", "sex is not F or M"),
    "age not a group": ("users.dat", "7::F::30::3::12345", "age is not an ML-1M age group"),
    "occupation 21": ("users.dat", "7::F::25::21::12345", "occupation is not 0..20"),
    "duplicate user": ("users.dat", "1::F::25::3::12345", "duplicate user_id (kept the first)"),
    "user id word": ("users.dat", "abc::F::25::3::12345", "user_id is not an integer"),
    "movie id padding": ("movies.dat", "-1::Padding (1999)::Drama", "movie_id -1 is the padding value"),
    "missing title": ("movies.dat", "21::::Drama", "missing title"),
    "movie id huge": ("movies.dat", f"{2**70}::Big (1999)::Drama", "movie_id out of range (more than 64 bits)"),
    "unknown genre": ("movies.dat", "21::New (1999)::Drama|Telenovela", "unknown genre removed"),
}


@pytest.mark.parametrize("case", sorted(BAD_OTHER_LINES))
def test_a_bad_users_or_movies_line_is_rejected_with_file_line_and_reason(case, tmp_path, capsys):
    name, line, reason = BAD_OTHER_LINES[case]
    texts = {"users": users_dat(), "movies": movies_dat()}
    key = name.split(".")[0]
    texts[key] += line + "\n"
    bad_line = texts[key].count("\n")
    raw = write_raw(tmp_path / "raw", **texts)
    code, _, stderr = prepare_cli(capsys, raw, tmp_path / "out")
    assert code == 0, stderr
    assert_conserved(raw, tmp_path / "out")
    rejects = rejects_of(tmp_path / "out")
    assert rejects[["file", "line", "reason"]].values.tolist() == [[name, bad_line, reason]]
    code, _, stderr = prepare_cli(capsys, raw, tmp_path / "strict", "--strict")
    assert code == 2 and f"{name}:{bad_line}: {reason}" in stderr


def test_strict_names_the_first_bad_line_of_the_file_not_of_the_first_rule(tmp_path, capsys):
    lines = ratings_dat().splitlines()
    lines[4] = "99::1::4::978300760"          # line 5: unknown user (checked last)
    lines[9] = "1::10::3.25::978300760"       # line 10: not a whole or half star (checked first)
    raw = write_raw(tmp_path / "raw", ratings="\n".join(lines) + "\n")
    code, _, stderr = prepare_cli(capsys, raw, tmp_path / "out", "--strict")
    assert code == 2 and "ratings.dat:5: unknown user: user_id not in users.dat" in stderr, stderr


def test_strict_follows_the_reading_order_of_the_files(tmp_path, capsys):
    ratings = ratings_dat().replace("1::2::", "1::2.5::", 1)       # ratings.dat:2
    raw = write_raw(tmp_path / "raw", users=users_dat() + "9::X::25::3::1\n", ratings=ratings)
    code, _, stderr = prepare_cli(capsys, raw, tmp_path / "out", "--strict")
    assert code == 2 and f"users.dat:{N_USERS + 1}: sex is not F or M" in stderr


# ------------------------------------------------------------------ encodings

@pytest.mark.parametrize("encoding", ["latin-1", "utf-8", "utf-8-sig"])
def test_titles_are_decoded_right_in_either_encoding_and_the_choice_recorded(encoding, tmp_path, capsys):
    raw = write_raw(tmp_path / "raw", movies=movies_dat().encode(encoding))
    assert prepare_cli(capsys, raw, tmp_path / "out")[0] == 0
    manifest = assert_conserved(raw, tmp_path / "out")
    movies = pd.read_csv(tmp_path / "out" / "movies.csv")
    assert "Les Misérables" in set(movies["title"])
    recorded = manifest["files"]["movies.dat"]["encoding"]
    assert recorded == {"latin-1": "latin-1", "utf-8": "utf-8", "utf-8-sig": "utf-8 (with byte-order mark)"}[encoding]
    assert manifest["files"]["ratings.dat"]["encoding"] == "ascii"


# ------------------------------------------------------------------ ML-100K

def test_ml100k_quarter_star_and_bad_line_are_rejected(tmp_path, capsys):
    root = tmp_path / "raw"
    root.mkdir()
    (root / "u.user").write_text("".join(f"{u}|{20 + u}|{'FM'[u % 2]}|student|1000{u}\n" for u in range(1, 7)))
    flags = "|".join(["0"] * 5 + ["1"] + ["0"] * 13)
    (root / "u.item").write_bytes("".join(f"{m}|Film {m} (1995)|01-Jan-1995||http://x|{flags}\n"
                                          for m in range(1, 21)).encode("latin-1"))
    lines = [f"{u}\t{m}\t{(u + m) % 5 + 1}\t{T0 + 100 * m + u}" for u in range(1, 7) for m in range(1, 21)]
    (root / "u.data").write_text("\n".join(lines + ["1\t1\t2.75\t978300760", "1 1 2 978300760"]) + "\n")
    code, _, stderr = prepare_cli(capsys, root, tmp_path / "out")
    assert code == 0, stderr
    rejects = rejects_of(tmp_path / "out")
    assert rejects[["file", "line", "reason"]].values.tolist() == [
        ["u.data", 121, "rating is not a whole or half star (a multiple of 0.5)"], ["u.data", 122, "expected 4 fields separated by '\\t'"]]
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["files"]["u.data"] == {"lines": 122, "kept": 120, "dropped": 2, "repaired": 0, "encoding": "ascii"}


# ------------------------------------------------------------------ links.csv and IMDb

def test_a_non_numeric_links_row_is_rejected_with_its_line(tmp_path, capsys):
    raw = write_raw(tmp_path / "raw")
    raw_fixtures.write_imdb(raw, ("title.basics", "title.ratings"))
    (raw / "links.csv").write_text("movieId,imdbId,tmdbId\n1,0114709,862\nabc,0113828,\n3,tt0112682,902\n")
    code, _, stderr = prepare_cli(capsys, raw, tmp_path / "out")
    assert code == 0, stderr
    assert_conserved(raw, tmp_path / "out")
    rejects = rejects_of(tmp_path / "out")
    assert rejects[["file", "line", "reason"]].values.tolist() == [
        ["links.csv", 3, "movieId is not a whole number"], ["links.csv", 4, "imdbId is not a whole number"]]


def test_links_without_its_columns_is_refused_naming_the_file(tmp_path, capsys):
    raw = write_raw(tmp_path / "raw")
    raw_fixtures.write_imdb(raw, ("title.basics",))
    (raw / "links.csv").write_text("movie,imdb\n1,0114709\n")
    code, _, stderr = prepare_cli(capsys, raw, tmp_path / "out")
    assert code == 2 and "links.csv: line 1: expected the columns movieId and imdbId" in stderr


def test_a_truncated_imdb_file_is_named_not_a_traceback(tmp_path, capsys):
    raw = write_raw(tmp_path / "raw")
    (raw / "imdb").mkdir()
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb") as f:
        f.write(("\t".join(raw_fixtures.TITLE_BASICS[0]) + "\n").encode()
                + b"".join(("\t".join(r) + "\n").encode() for r in raw_fixtures.TITLE_BASICS[1:] * 2000))
    (raw / "imdb" / "title.basics.tsv.gz").write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    code, _, stderr = prepare_cli(capsys, raw, tmp_path / "out")
    assert code == 2 and "title.basics.tsv.gz: damaged, truncated" in stderr and "Traceback" not in stderr
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------ unusable data sets

@pytest.mark.parametrize("ratings, message", [
    ("", "ratings.dat: no usable ratings (0 lines)"),
    ("\n\n   \n", "ratings.dat: no usable ratings (3 lines, all rejected: blank line x3)"),
    ("1::1::3.25::978300760\n1::2::x::978300760\n",
     "all rejected: rating is not a number x1; rating is not a whole or half star (a multiple of 0.5) x1"),
    (ratings_dat(users=1), "too small to train on: no user pairs in the train and eval and test split"),
], ids=["empty", "blank lines only", "all rejected", "single user"])
def test_a_data_set_too_small_to_train_on_stops_with_a_clear_error(ratings, message, tmp_path, capsys):
    raw = write_raw(tmp_path / "raw", ratings=ratings)
    code, _, stderr = prepare_cli(capsys, raw, tmp_path / "out")
    assert code == 2 and message in stderr, stderr
    assert "nan" not in stderr.lower() and not (tmp_path / "out").exists()


# ------------------------------------------------------------------ missing files, flags

@pytest.mark.parametrize("spoil, message", [
    (lambda raw: (raw / "ml-1m" / "users.dat").unlink(), "users.dat: missing; MovieLens 1M needs"),
    (lambda raw: ((raw / "ml-1m" / "users.dat").unlink(), (raw / "ml-1m" / "users.dat").mkdir()),
     "users.dat: is a folder, not a file"),
], ids=["users.dat missing", "users.dat a folder"])
def test_a_missing_or_folder_input_file_is_named(spoil, message, tmp_path, capsys):
    raw = write_raw(tmp_path / "raw")
    spoil(raw)
    code, _, stderr = prepare_cli(capsys, raw, tmp_path / "out")
    assert code == 2 and message in stderr and "Traceback" not in stderr


def test_raw_that_does_not_exist_or_is_a_file(tmp_path, capsys):
    code, _, stderr = prepare_cli(capsys, tmp_path / "nope", tmp_path / "out")
    assert code == 2 and "no such folder" in stderr
    (tmp_path / "file").write_text("x")
    code, _, stderr = prepare_cli(capsys, tmp_path / "file", tmp_path / "out")
    assert code == 2 and "is a file, not a folder" in stderr


def test_partners_zero_is_refused_before_reading_anything(tmp_path, capsys):
    code, _, stderr = prepare_cli(capsys, tmp_path / "nope", tmp_path / "out", "--partners", "0")
    assert code == 2 and "--partners: must be at least 1" in stderr


def test_verbose_adds_the_traceback(tmp_path, capsys):
    code, _, stderr = run_cli(capsys, "--verbose", "prepare", "--raw", tmp_path / "nope", "--out", tmp_path / "o")
    assert code == 2 and "Traceback" in stderr and "no such folder" in stderr


# ------------------------------------------------------------------ the user's own files are never touched

def _tree(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_out_naming_a_folder_of_the_users_is_refused_and_left_alone(tmp_path, capsys):
    raw = write_raw(tmp_path / "raw")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    code, _, stderr = prepare_cli(capsys, raw, mine)
    assert code == 2 and "holds files the data stage did not write" in stderr
    assert _tree(mine) == {"thesis.tex": b"years of work"}


@pytest.mark.parametrize("where", ["raw itself", "parent of raw", "inside raw"])
def test_out_never_into_or_above_raw(where, tmp_path, capsys):
    raw = write_raw(tmp_path / "data" / "raw")
    before = _tree(tmp_path / "data")
    out = {"raw itself": raw, "parent of raw": raw.parent, "inside raw": raw / "prepared"}[where]
    code, _, stderr = prepare_cli(capsys, raw, out)
    assert code == 2 and "never writes" in stderr
    assert _tree(tmp_path / "data") == before


def test_out_naming_a_file_is_refused_and_the_file_kept(tmp_path, capsys):
    raw = write_raw(tmp_path / "raw")
    (tmp_path / "notes.txt").write_text("mine")
    code, _, stderr = prepare_cli(capsys, raw, tmp_path / "notes.txt")
    assert code == 2 and "is a file, not a folder" in stderr
    assert (tmp_path / "notes.txt").read_text() == "mine" and not (tmp_path / ".notes.txt.old").exists()


def test_an_empty_folder_is_fine_and_becomes_the_stages_own(tmp_path, capsys):
    raw = write_raw(tmp_path / "raw")
    (tmp_path / "out").mkdir()
    assert prepare_cli(capsys, raw, tmp_path / "out")[0] == 0
    assert (tmp_path / "out" / outdir.MARKER).is_file()
    assert prepare_cli(capsys, raw, tmp_path / "out", "--force")[0] == 0   # its own: replaced


# ------------------------------------------------------------------ damaged outputs, kills, faults

@pytest.mark.parametrize("damage", ["truncate a CSV", "delete a CSV", "garble the manifest"])
def test_a_damaged_prepared_folder_is_rebuilt(damage, tmp_path, capsys):
    raw, out = write_raw(tmp_path / "raw"), tmp_path / "out"
    assert prepare_cli(capsys, raw, out)[0] == 0
    good = _tree(out)
    target = out / "train" / "pairs.csv"
    if damage == "truncate a CSV":
        target.write_bytes(target.read_bytes()[:100])
    elif damage == "delete a CSV":
        target.unlink()
    else:
        (out / "manifest.json").write_text('{"key": ')
    code, _, stderr = prepare_cli(capsys, raw, out)
    assert code == 0
    if damage != "garble the manifest":
        assert "rebuilding it" in stderr
    after = _tree(out)
    assert after.keys() == good.keys()
    assert {k: v for k, v in after.items() if k != "manifest.json"} == {k: v for k, v in good.items()
                                                                          if k != "manifest.json"}


def test_an_up_to_date_folder_is_reused_untouched(tmp_path, capsys):
    raw, out = write_raw(tmp_path / "raw"), tmp_path / "out"
    assert prepare_cli(capsys, raw, out)[0] == 0
    mtime = (out / "train" / "pairs.csv").stat().st_mtime_ns
    assert prepare_cli(capsys, raw, out)[0] == 0
    assert (out / "train" / "pairs.csv").stat().st_mtime_ns == mtime


def test_a_kill_between_the_fallback_renames_is_recovered(tmp_path, capsys):
    raw, out = write_raw(tmp_path / "raw"), tmp_path / "out"
    assert prepare_cli(capsys, raw, out)[0] == 0
    good = _tree(out)
    out.rename(tmp_path / ".out.old")                      # what a kill after the first rename leaves
    (tmp_path / ".out.tmp-abc").mkdir()
    (tmp_path / ".out.tmp-abc" / outdir.MARKER).write_text("")   # and a half-written new one
    assert prepare_cli(capsys, raw, out)[0] == 0
    assert _tree(out) == good                              # the old output, recovered and reused
    assert sorted(p.name for p in tmp_path.iterdir()) == [".out.lock", "out", "raw"]


def test_the_fallback_swap_replaces_the_old_output_whole(tmp_path, capsys, monkeypatch):
    raw, out = write_raw(tmp_path / "raw"), tmp_path / "out"
    assert prepare_cli(capsys, raw, out)[0] == 0
    monkeypatch.setattr(outdir, "_exchange", lambda a, b: False)
    (raw / "ml-1m" / "ratings.dat").write_text(ratings_dat() + "1::1::x::1\n")
    assert prepare_cli(capsys, raw, out)[0] == 0
    assert_conserved(raw, out)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".out.lock", "out", "raw"]


@pytest.mark.parametrize("error, message", [
    (OSError(errno.ENOSPC, "No space left on device"), "disk full"),
    (PermissionError(errno.EACCES, "Permission denied", "out/train"), "out/train: Permission denied"),
    (OSError(errno.EROFS, "Read-only file system", "out"), "read-only file system"),
], ids=["disk full", "permission", "read-only"])
def test_a_write_failure_is_one_message_and_keeps_the_old_output(error, message, tmp_path, capsys, monkeypatch):
    raw, out = write_raw(tmp_path / "raw"), tmp_path / "out"
    assert prepare_cli(capsys, raw, out)[0] == 0
    good = _tree(out)

    def fail(self, *args, **kwargs):
        raise error
    monkeypatch.setattr(pd.DataFrame, "to_csv", fail)
    code, _, stderr = prepare_cli(capsys, raw, out, "--force")
    assert code == 2 and message in stderr and "Traceback" not in stderr
    assert _tree(out) == good
    assert sorted(p.name for p in tmp_path.iterdir()) == [".out.lock", "out", "raw"]


def _data_stage(raw: Path, out: Path, preexec=None, as_ordinary_user: bool = False, *extra):
    """`python -m data.cli prepare` in a process of its own (a resource limit; as root, without
    the capabilities that let root write into a read-only folder, as an ordinary user runs it)."""
    command = [sys.executable, "-m", "data.cli", "prepare", "--raw", str(raw), "--out", str(out), *extra]
    if as_ordinary_user:
        command = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search,-fowner", "--", *command]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    return subprocess.run(command, capture_output=True, text=True, env=env, preexec_fn=preexec, timeout=300)


def test_a_file_size_limit_is_one_message_naming_the_file_and_keeps_the_old_output(tmp_path, capsys):
    raw, out = write_raw(tmp_path / "raw"), tmp_path / "out"
    assert prepare_cli(capsys, raw, out)[0] == 0
    good = _tree(out)
    limit = 2000      # bytes: the first prepared CSV is larger, so writing it fails with EFBIG
    result = _data_stage(raw, out, lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit)), None, "--force")
    assert result.returncode == 2, result.stderr
    assert "file too large writing " + str(out) in result.stderr and "Traceback" not in result.stderr
    assert _tree(out) == good
    assert sorted(p.name for p in tmp_path.iterdir()) == [".out.lock", "out", "raw"]


def test_a_read_only_out_is_refused_with_its_name_and_nothing_is_left_beside_it(capsys):
    # Root may write into any folder: the case is an ordinary user's, so as root the run drops
    # the capabilities that bypass file modes.
    base = Path(tempfile.mkdtemp(prefix="readonly-out-"))
    try:
        raw, out = write_raw(base / "raw"), base / "out"
        assert prepare_cli(capsys, raw, out)[0] == 0
        user = os.geteuid() == 0
        (raw / "ml-1m" / "ratings.dat").write_text(ratings_dat() + "1::1::x::1\n")   # new input: a rebuild
        good = _tree(out)
        out.chmod(0o555)
        result = _data_stage(raw, out, None, user)
        assert result.returncode == 2, result.stderr
        assert f"--out {out} is read-only" in result.stderr and "Traceback" not in result.stderr
        assert _tree(out) == good
        assert sorted(p.name for p in base.iterdir()) == [".out.lock", "out", "raw"]
    finally:
        for path in [base, *base.rglob("*")]:
            if path.is_dir():
                path.chmod(0o755)
        shutil.rmtree(base)


def test_two_runs_on_one_output_are_serialised(tmp_path, capsys):
    raw, out = write_raw(tmp_path / "raw"), tmp_path / "out"
    tmp_path.joinpath(".out.lock").write_text("")
    holder = open(tmp_path / ".out.lock", "a+")
    fcntl.flock(holder, fcntl.LOCK_EX)                     # another run is writing out
    result = {}
    worker = threading.Thread(target=lambda: result.update(m=prepare.prepare(raw, out)))
    worker.start()
    time.sleep(1.0)
    assert worker.is_alive() and not out.exists()          # waiting, nothing written
    fcntl.flock(holder, fcntl.LOCK_UN)
    holder.close()
    worker.join(60)
    assert not worker.is_alive() and result["m"]["files"]["ratings.dat"]["kept"] == RATINGS_LINES
    assert "another run" in capsys.readouterr().err


def test_a_second_pipeline_run_on_one_work_folder_is_refused(tmp_path, capsys):
    work = tmp_path / "work"
    work.mkdir()
    holder = open(work / ".run.lock", "a+")
    holder.write("pid 4242, started now\n")
    holder.flush()
    fcntl.flock(holder, fcntl.LOCK_EX)                     # `make run` in progress
    try:
        with pytest.raises(SystemExit) as exit_:
            run_local.main(["--work-dir", str(work), "--size", "tiny"])
    finally:
        holder.close()
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert f"another run is using the work folder {work}" in err and "pid 4242" in err
    assert sorted(p.name for p in work.iterdir()) == [".run.lock"]      # nothing else written


def test_run_local_refuses_a_missing_raw_folder_with_exit_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        run_local.main(["--work-dir", str(tmp_path / "work"), "--raw", str(tmp_path / "nope")])
    assert exit_.value.code == 2 and "--raw" in capsys.readouterr().err


def test_run_local_turns_an_os_error_in_the_data_stage_into_one_message_and_exit_2(tmp_path, capfd, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "work" / "prepared"))
    monkeypatch.setattr(run_local.data_prepare, "prepare", full)
    with pytest.raises(SystemExit) as exit_:
        run_local.main(["--work-dir", str(tmp_path / "work"), "--raw", str(write_raw(tmp_path / "raw"))])
    out = capfd.readouterr()
    assert exit_.value.code == 2
    assert "data stage: disk full writing" in out.out + out.err and "Traceback" not in out.out + out.err


# ------------------------------------------------------------------ fetch

def _ml100k_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, text in (("u.user", raw_fixtures.ML100K_USER), ("u.item", raw_fixtures.ML100K_ITEM),
                           ("u.data", raw_fixtures.ML100K_DATA)):
            z.writestr(f"ml-100k/{name}", text.encode("latin-1"))
    return buffer.getvalue()


@pytest.fixture()
def fake_ml100k(monkeypatch):
    archive = _ml100k_zip()
    remote = Remote("ml-100k.zip", "http://127.0.0.1:9/ml-100k.zip", hashlib.md5(archive).hexdigest())
    monkeypatch.setitem(download.DATASETS, "ml-100k", [remote])
    return archive


def test_a_cached_archive_that_failed_its_checksum_does_not_hide_source(fake_ml100k, tmp_path, capsys):
    cache, source = tmp_path / "cache", tmp_path / "source"
    cache.mkdir()
    source.mkdir()
    (cache / "ml-100k.zip").write_bytes(b"corrupt")
    code, _, stderr = run_cli(capsys, "fetch", "--dataset", "ml-100k", "--out", tmp_path / "raw",
                              "--cache", cache)
    assert code == 2 and "does not match the published" in stderr and "moved aside" in stderr
    (source / "ml-100k.zip").write_bytes(fake_ml100k)
    code, stdout, stderr = run_cli(capsys, "fetch", "--dataset", "ml-100k", "--out", tmp_path / "raw",
                                   "--cache", cache, "--source", source)
    assert code == 0, stderr
    assert (tmp_path / "raw" / "ml-100k" / "u.data").read_text() == raw_fixtures.ML100K_DATA


def test_fetch_refuses_a_folder_as_archive_and_a_file_as_cache(fake_ml100k, tmp_path, capsys):
    (tmp_path / "source" / "ml-100k.zip").mkdir(parents=True)
    code, _, stderr = run_cli(capsys, "fetch", "--dataset", "ml-100k", "--out", tmp_path / "raw",
                              "--cache", tmp_path / "cache", "--source", tmp_path / "source")
    assert code == 2 and "is a folder, not the archive" in stderr
    (tmp_path / "cachefile").write_text("x")
    code, _, stderr = run_cli(capsys, "fetch", "--dataset", "ml-100k", "--out", tmp_path / "raw",
                              "--cache", tmp_path / "cachefile")
    assert code == 2 and "--cache" in stderr and "is a file, not a folder" in stderr
    assert (tmp_path / "cachefile").read_text() == "x"


# ------------------------------------------------------------------ the other command lines

def _exit_of(main, argv) -> int:
    try:
        main([str(a) for a in argv])
    except SystemExit as e:
        return e.code
    return 0


def test_recommend_and_kubeflow_say_what_is_missing_with_exit_2(tmp_path, capsys):
    from serving import recommend
    from runners import run_kubeflow

    assert _exit_of(recommend.main, ["--users", 1, 2, "--work-dir", tmp_path / "work"]) == 2
    assert "no prepared data under" in capsys.readouterr().err
    assert _exit_of(recommend.main, ["--users", 1, 2, "--prepared", tmp_path]) == 2
    assert "not a prepared data folder" in capsys.readouterr().err
    assert _exit_of(run_kubeflow.main, ["--settings", tmp_path / "none.toml"]) == 2
    err = capsys.readouterr().err
    assert "none.toml: No such file or directory" in err and "Traceback" not in err
    (tmp_path / "bad.toml").write_text("image = \n")
    assert _exit_of(run_kubeflow.main, ["--settings", tmp_path / "bad.toml"]) == 2
    assert "bad.toml: not valid TOML" in capsys.readouterr().err
