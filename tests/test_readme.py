"""The documentation's commands work as written.

The README sends its topics to pages under docs/ (DOC_PAGES); their shell blocks are read as
one document, in DOC_PAGES order. Every line of a shell block (```sh, ```bash, ```console or
an unlabelled block; ```text, ```json and ```python blocks are not commands) that is not a
comment is a command. Each one is either run here -- the cheap ones in the fast loop from the
repository root with WORK and SIZE given in the environment (make's `?=` honours them), the
expensive ones under the e2e marker, in the pages' order, on tiny data in a copy of the
repository -- or listed in NOT_RUN with the reason it cannot run on a development machine. A
command that is none of these fails the test, and so does an entry for a command no page
holds any longer: the documentation cannot drift from what works.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import os
import re
import shlex
import shutil
import subprocess
import threading
import zipfile
from pathlib import Path

import pytest

from common.layout import WorkLayout
from tests.conftest import require_current_venv

ROOT = Path(__file__).resolve().parents[1]
README_FILE = ROOT / "README.md"
# The README and the pages it moved its topics to, in the order their commands run.
DOC_PAGES = (README_FILE, *(ROOT / "docs" / f"{name}.md" for name in (
    "CONFIGURATION", "DATA", "MODEL", "EVALUATION", "SERVING", "KUBEFLOW", "DEVELOPMENT")))
SHELL_BLOCKS = {"", "sh", "bash", "shell", "console"}


class Pages:
    """Markdown pages read as one document: read_text() joins them in order."""

    def __init__(self, paths):
        self.paths = tuple(paths)

    def read_text(self) -> str:
        return "\n".join(path.read_text() for path in self.paths)

    def under(self, root: Path) -> "Pages":
        """The same pages in another copy of the repository."""
        return Pages(root / path.relative_to(ROOT) for path in self.paths)


# What the README says, with the pages it sends its topics to (tests/test_serve_e2e.py reads
# the service's commands, the request bodies and the gRPC example through it).
README = Pages(DOC_PAGES)

# Run in the fast loop, exactly as written, from the repository root; WORK and SIZE come
# from the environment.
CHEAP = {
    "make data",
    ".venv/bin/python -m runners.run_local --help",
    ".venv/bin/python -m data.cli prepare --help",
}
# Run in this order under the e2e marker, exactly as written, in a copy of the repository
# (so that the README's literal work/ paths are the copy's), SIZE=tiny; ARGS (for the
# commands that do not set it) shortens training and pushes the tiny data's model whatever
# the gate says (--force-push), so that the serving commands after it have a model.
MAKE_RUN = "make run"
SAVED_MODEL_CLI = (".venv/bin/saved_model_cli show --all --dir "
                   "work/serving_model/$(ls work/serving_model | sort -n | tail -1)")
RECOMMEND = ".venv/bin/python -m serving.recommend --users 1 2 --top 5"
E2E = [
    MAKE_RUN,                                # README
    "make report",
    "make run SIZE=tiny",                    # docs/CONFIGURATION.md
    'make run ARGS="--preset seed --baseline mf"',
    "make fetch DATASET=ml-100k",            # docs/DATA.md; from a 127.0.0.1 server, see _fetch_from_local_server
    "make run RAW=work/raw/real/ml-100k",
    RECOMMEND,                               # docs/SERVING.md
    SAVED_MODEL_CLI,
    "make kubeflow",                         # docs/KUBEFLOW.md
]
E2E_ENV = {"SIZE": "tiny", "ARGS": "--epochs 3 --sequence-epochs 3 --force-push --no-ranking"}   # ranking: tests/test_pipeline_e2e.py
# The recommendation service's requests (the README's quick start, docs/SERVING.md).
SERVICE_CURLS = [
    "curl -s 'http://127.0.0.1:8000/v1/recommendations?users=1,2&n=10'",
    "curl -s 'http://127.0.0.1:8000/v1/recommendations?users=1,2&n=5&strategy=least_misery&diversify=true'",
    "curl -s 'http://127.0.0.1:8000/v1/predict?users=1,2&movie=7'",
    "curl -s -X POST http://127.0.0.1:8000/v1/recommendations -H 'Content-Type: application/json' "
    "-d @docs/serving/cold_start.json",
    "curl -s http://127.0.0.1:8000/v1/model",
]
# Not run here, and why.
NOT_RUN = {
    "make test": "the whole suite, this test included; CI runs it (.ci/run)",
    "make test-fast": "the fast loop, this test included",
    "make bench": "the scale benchmark, over an hour at up to ML-1M size; tests/test_bench_scale.py "
                  "tests its parts, and its last output is BENCHMARKS.md's scale section",
    "make bench ARGS=--quick": "the same at 0.03x and 0.1x, about 9 minutes: too long for the test suite",
    "make bench-data": "the data stage at ML-1M size, a benchmark (make bench*), not a test; the steps it "
                       "times are the data stage's, which tests/test_prepare.py and test_windows.py test",
    "make bench-model": "the model-quality benchmark, about 50 minutes of pipeline runs (3 seeds, every "
                        "ablation and peer); tests/test_peers.py tests its scikit-surprise peers",
    "make bench-sequence": "the sequence model's benchmark: pipeline runs with 3 seeds and its ablations, too "
                           "long for the test suite; tests/test_sequence.py tests the model",
    "make bench-origin": "the deep part's benchmark: five pipeline runs, about 20 minutes; tests/test_model.py "
                         "tests the keep decision and the rolling origin's rows",
    "make fetch DATASET=ml-1m": "downloads from files.grouplens.org: no network on the development machines "
                                "(the same code is run for ml-100k against a local server)",
    "make fetch DATASET=imdb": "downloads several GB from datasets.imdbws.com: no network here",
    "make run RAW=work/raw/real": "needs the ML-1M and IMDb downloads above (network)",
    "make fetch DATASET=ml-latest-small": "downloads from files.grouplens.org: no network here (the same code "
                                          "is run for ml-100k against a local server)",
    "make run RAW=work/raw/real/ml-latest-small": "needs that download (network); tests/test_releases.py prepares "
                                                  "the release's format, tests/test_faults_e2e.py runs half stars "
                                                  "without demographics through the pipeline",
    'docker run --rm -p 8500:8500 -p 8501:8501 -v "$PWD/work/serving_model:/models/pairs" -e MODEL_NAME=pairs '
    'tensorflow/serving:2.19.1':
        "no Docker on the development machines",
    "curl -s -X POST http://localhost:8501/v1/models/pairs:predict -d @docs/serving/predict_raw_instances.json":
        "needs the TF Serving container above; tests/test_serve_e2e.py runs this body (and the columnar one) "
        "through the same signature in-process",
    "make serve": "runs until stopped; tests/test_serve_e2e.py starts `make serve PORT=<a free port>` and stops it",
    "make serve PORT=8080": "runs until stopped; tests/test_serve_e2e.py starts it with a free port and stops it",
    **{command: "needs `make serve` running; tests/test_serve_e2e.py runs it as written against "
                "`make serve PORT=<a free port>`, the port substituted"
       for command in SERVICE_CURLS},
}


def readme_commands(text: str) -> list[str]:
    """The commands of the shell blocks, in order: comments removed, continuations joined."""
    commands, inside, language, pending = [], False, "", ""
    for line in text.splitlines():
        fence = re.match(r"^\s*```(\S*)", line)
        if fence:
            inside, language = (not inside), fence.group(1)
            continue
        if not inside or language not in SHELL_BLOCKS:
            continue
        line = re.sub(r"\s+#\s.*$", "", line).rstrip()   # a trailing comment
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        commands.append(pending + line.strip())
        pending = ""
    return commands


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("WORK", "SIZE", "SEED", "RAW", "ARGS", "TF_USE_LEGACY_KERAS", "PYTHONPATH", "MAKEFLAGS")}
    return {**env, **extra}


def _run(command: str, cwd: Path, env: dict, timeout: int) -> subprocess.CompletedProcess:
    result = subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, (f"README command failed: {command}\n--- stdout\n{result.stdout[-3000:]}"
                                    f"\n--- stderr\n{result.stderr[-3000:]}")
    return result


def test_every_readme_command_is_run_or_listed_with_a_reason():
    assert all(page.exists() for page in DOC_PAGES), [str(p) for p in DOC_PAGES if not p.exists()]
    commands = readme_commands(README.read_text())
    assert readme_commands(README_FILE.read_text()), "no commands found in README.md's shell blocks"
    covered = CHEAP | set(E2E) | set(NOT_RUN)
    unknown = [c for c in commands if c not in covered]
    assert not unknown, (f"commands of the README or its docs pages neither run by tests/test_readme.py nor "
                         f"listed in its NOT_RUN with a reason: {unknown}")
    stale = sorted(covered - set(commands))
    assert not stale, f"tests/test_readme.py lists commands no page holds any longer: {stale}"
    assert all(reason for reason in NOT_RUN.values())
    assert [c for c in commands if c in E2E] == E2E, "E2E must list the pages' expensive commands in DOC_PAGES order"


def anchors(text: str) -> set[str]:
    """GitHub's anchors of a Markdown page's headings: lower case, punctuation but '-' dropped,
    spaces to '-'."""
    headings = re.findall(r"^#+\s+(.*?)\s*$", re.sub(r"```.*?```", "", text, flags=re.S), re.M)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


@pytest.mark.parametrize("page", DOC_PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_pages_link_only_files_of_the_repository(page):
    text = page.read_text()
    if page == README_FILE:
        assert "../" not in text, "the README must not point outside the repository"
    for target, anchor in re.findall(r"\]\(([^)#\s]*)(?:#([^)\s]*))?\)", text):
        if re.match(r"[a-z]+://", target):
            continue
        path = (page.parent / target).resolve() if target else page
        where = f"{page.relative_to(ROOT)} links to {target}#{anchor}"
        assert path.is_relative_to(ROOT) and path.exists(), f"{where}, which is not in the repository"
        if anchor and path.suffix == ".md":
            assert anchor in anchors(path.read_text()), f"{where}, a heading that page does not have"


def test_block_parsing():
    text = "```sh\nmake a  # comment\n# only a comment\nmake b \\\n  C=1\n```\n```text\nmake no\n```\n```\nx\n```\n"
    assert readme_commands(text) == ["make a", "make b C=1", "x"]


@pytest.mark.parametrize("command", sorted(CHEAP))
def test_cheap_command_runs_as_written(command, tmp_path):
    result = _run(command, ROOT, _env(WORK=str(tmp_path / "work"), SIZE="tiny"), timeout=300)
    if command == "make data":       # it writes where `make run` with the same SIZE and SEED reads
        assert (WorkLayout.at(tmp_path / "work").synthetic_raw("tiny", 42) / "ml-1m" / "ratings.dat").exists()
    assert result.stdout


# ---------------------------------------------------------------- the e2e commands

def _copy_of_the_repository(dest: Path) -> Path:
    """The files git knows (committed or not, ignored ones left out), with their times, and
    a .venv link to this checkout's environment."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file() and not source.is_symlink():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    (dest / ".venv").symlink_to((ROOT / ".venv").resolve())
    require_current_venv(dest)
    return dest


def _tiny_ml100k_zip(path: Path) -> bytes:
    """The tiny synthetic data set rewritten in ML-100K's formats, zipped as GroupLens does."""
    from data import synthetic
    from data.formats import ML_GENRES
    from data.movielens import GENRES_100K, OCCUPATIONS_100K

    raw = synthetic.generate(path / "synthetic", "tiny", seed=42) / "ml-1m"
    name_of = {}
    for name, code in OCCUPATIONS_100K.items():
        name_of.setdefault(code, name)
    users, items, data = [], [], []
    for line in (raw / "users.dat").read_text(encoding="latin-1").splitlines():
        user, sex, age, occupation, zip_code = line.split("::")
        users.append(f"{user}|{age}|{sex}|{name_of.get(int(occupation), 'other')}|{zip_code}")
    for line in (raw / "movies.dat").read_text(encoding="latin-1").splitlines():
        movie, title, genres = line.split("::")
        year = title[-5:-1]
        flags = "|".join("1" if g in genres.split("|") and g in ML_GENRES else "0" for g in GENRES_100K)
        items.append(f"{movie}|{title}|01-Jan-{year}||http://example.invalid/{movie}|{flags}")
    for line in (raw / "ratings.dat").read_text(encoding="latin-1").splitlines():
        data.append("\t".join(line.split("::")))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, lines in (("u.user", users), ("u.item", items), ("u.data", data)):
            z.writestr(f"ml-100k/{name}", ("\n".join(lines) + "\n").encode("latin-1"))
    return buffer.getvalue()


def _fetch_from_local_server(command: str, repo: Path, tmp_path: Path, monkeypatch) -> None:
    """`make fetch DATASET=ml-100k`: make says the command it would run (make -n), which then
    runs in-process against a 127.0.0.1 server holding a tiny ML-100K archive and its MD5."""
    from data import cli, download

    archive = _tiny_ml100k_zip(tmp_path)

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(archive)))
            self.end_headers()
            self.wfile.write(archive)

    planned = _run(command.replace("make ", "make -n ", 1), repo, _env(), timeout=60).stdout.splitlines()
    python = [shlex.split(line) for line in planned if " -m data.cli fetch " in line]
    assert len(python) == 1, planned
    argv = python[0][python[0].index("data.cli") + 1:]
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/ml-100k.zip"
        monkeypatch.setitem(download.DATASETS, "ml-100k",
                            [download.Remote("ml-100k.zip", url, hashlib.md5(archive).hexdigest())])
        monkeypatch.chdir(repo)
        cli.main(argv)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert (WorkLayout.at(repo / "work").real_raw / "ml-100k" / "u.data").exists()


# The expensive commands in two clones, so that make test's two workers share them (one test
# of all nine took 7 minutes, the suite's critical path): the embedded data's, and ML-100K's.
E2E_EMBEDDED = [MAKE_RUN, "make report", "make run SIZE=tiny", RECOMMEND, SAVED_MODEL_CLI, "make kubeflow"]
E2E_ML100K = ['make run ARGS="--preset seed --baseline mf"', "make fetch DATASET=ml-100k",
              "make run RAW=work/raw/real/ml-100k"]


def test_the_expensive_commands_are_split_between_the_two_tests():
    readme_order = [c for c in readme_commands(README.under(ROOT).read_text()) if c in E2E]
    assert readme_order == E2E, "E2E must list the pages' expensive commands in DOC_PAGES order"
    assert sorted(E2E_EMBEDDED + E2E_ML100K) == sorted(E2E)


def _run_in_a_clone(commands: list[str], tmp_path, monkeypatch) -> tuple[dict, WorkLayout]:
    """`commands` as written, in E2E's order, in a new copy of the repository."""
    repo = _copy_of_the_repository(tmp_path / "clone")
    outputs = {}
    for command in [c for c in E2E if c in commands]:
        if command == "make fetch DATASET=ml-100k":
            _fetch_from_local_server(command, repo, tmp_path, monkeypatch)
            continue
        outputs[command] = _run(command, repo, _env(**E2E_ENV), timeout=900).stdout
    return outputs, WorkLayout.at(repo / "work")


@pytest.mark.e2e
def test_expensive_commands_on_the_embedded_data_run_as_written(tmp_path, monkeypatch):
    outputs, work = _run_in_a_clone(E2E_EMBEDDED, tmp_path, monkeypatch)
    assert "run summary" in outputs[MAKE_RUN]
    assert "run summary" in outputs["make run SIZE=tiny"]
    assert (work.synthetic_raw("tiny", 42) / "ml-1m" / "ratings.dat").exists()
    assert list(work.reports.glob("*/report.html"))
    assert work.kubeflow_spec("movie-pair-recommender").exists()
    assert "serving_default" in outputs[SAVED_MODEL_CLI]
    assert "top 5 for users 1 and 2" in outputs[RECOMMEND]


@pytest.mark.e2e
def test_expensive_commands_on_ml_100k_run_as_written(tmp_path, monkeypatch):
    outputs, work = _run_in_a_clone(E2E_ML100K, tmp_path, monkeypatch)
    assert "run summary" in outputs['make run ARGS="--preset seed --baseline mf"']
    assert "run summary" in outputs["make run RAW=work/raw/real/ml-100k"]
    manifest = (work.prepared / "ml-100k" / "manifest.json").read_text()
    assert '"format": "ml-100k"' in manifest


def quoted_figures(text: str) -> list[str]:
    """The figures of a page's "## Results" section: every number with three or more decimals,
    as written (0.8157, 0.291), a ± spread included, and every "commit <sha>" it names."""
    section = re.search(r"^## Results\n(.*?)(?=^## )", text, re.S | re.M)
    assert section, "README.md has no '## Results' section"
    body = section.group(1)
    return re.findall(r"[+-]?\d+\.\d{3,}(?: ± \d+\.\d{3,})?", body) + re.findall(r"commit [0-9a-f]{7,}", body)


def test_the_readmes_figures_are_benchmarks_figures():
    """One fact, one place: each figure the README's results quote (and the commit it names)
    is in BENCHMARKS.md, where the command that measured it writes it."""
    benchmarks = (ROOT / "BENCHMARKS.md").read_text()
    figures = quoted_figures(README_FILE.read_text())
    assert len(figures) >= 8, figures
    missing = [f for f in figures if f not in benchmarks]
    assert not missing, f"README.md's results quote figures BENCHMARKS.md does not hold: {missing}"


def test_quoted_figures_parsing():
    text = "## Results\n| a | 0.8157 | 0.291 ± 0.001 | +0.019 | 1.5 |\ncommit 90cb2bf\n## Next\n0.1234\n"
    assert quoted_figures(text) == ["0.8157", "0.291 ± 0.001", "+0.019", "commit 90cb2bf"]
