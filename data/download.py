"""Fetching the real data sets: the MovieLens releases from GroupLens, the IMDb TSVs.

- Progress bars (tqdm); downloads go to '<name>.part' and are renamed when complete.
- A cut-off download resumes with an HTTP Range request (or restarts if the server
  ignores it); a size mismatch is detected and the partial file kept for the next try.
- MovieLens archives are verified against their published MD5 and refused on mismatch;
  ml-latest and ml-latest-small are rebuilt from time to time under the same URL, so no
  checksum is pinned for them (nor for IMDb's daily files): they are fetched unverified,
  and `data.cli fetch` says so.
- A cache directory: nothing already there (and verified) is downloaded again.
- --source DIR: files a user already has are copied in instead of downloaded.
- Offline, the error says which file is missing and where to put it.
- Zip members that would land outside the target folder are refused.
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
import zipfile
from pathlib import Path, PurePosixPath

import requests
from tqdm import tqdm

from common.errors import UserError

CHUNK = 1 << 16


@dataclasses.dataclass(frozen=True)
class Remote:
    name: str                 # file name in the cache
    url: str
    md5: str | None = None    # published checksum, where the source publishes one


GROUPLENS = "https://files.grouplens.org/datasets/movielens"
IMDB = "https://datasets.imdbws.com"
NO_PUBLISHED_CHECKSUM = None     # a file that changes under its URL: fetched unverified, and fetch says so
DATASETS = {
    # MD5 as published by GroupLens beside each archive (<url>.md5).
    "ml-1m": [Remote("ml-1m.zip", f"{GROUPLENS}/ml-1m.zip", "c4d9eecfca2ab87c1945afe126590906")],
    "ml-100k": [Remote("ml-100k.zip", f"{GROUPLENS}/ml-100k.zip", "0e33842e24a9c977be4e0107933c0723")],
    "ml-10m": [Remote("ml-10m.zip", f"{GROUPLENS}/ml-10m.zip", "ce571fd55effeba0271552578f2648bd")],
    "ml-20m": [Remote("ml-20m.zip", f"{GROUPLENS}/ml-20m.zip", "cd245b17a1ae2cc31bb14903e1204af3")],
    "ml-25m": [Remote("ml-25m.zip", f"{GROUPLENS}/ml-25m.zip", "6b51fb2759a8657d3bfcbfc42b592ada")],
    # Rebuilt in place by GroupLens from time to time (same URL, new content): no checksum can be
    # pinned, and none is invented.
    "ml-latest-small": [Remote("ml-latest-small.zip", f"{GROUPLENS}/ml-latest-small.zip", NO_PUBLISHED_CHECKSUM)],
    "ml-latest": [Remote("ml-latest.zip", f"{GROUPLENS}/ml-latest.zip", NO_PUBLISHED_CHECKSUM)],
    # IMDb publishes no checksums, and the files change daily.
    "imdb": [Remote(f"{n}.tsv.gz", f"{IMDB}/{n}.tsv.gz") for n in
             ("title.basics", "title.ratings", "title.crew", "title.principals", "name.basics")],
}

# The folder each MovieLens archive unzips to (under fetch's out_dir): ML-10M's is ml-10M100K.
FOLDERS = {"ml-1m": "ml-1m", "ml-100k": "ml-100k", "ml-10m": "ml-10M100K", "ml-20m": "ml-20m", "ml-25m": "ml-25m",
           "ml-latest-small": "ml-latest-small", "ml-latest": "ml-latest"}


class DownloadError(RuntimeError, UserError):
    pass


def md5sum(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "md5").hexdigest()


def _verify(path: Path, remote: Remote) -> None:
    if remote.md5 and (got := md5sum(path)) != remote.md5:
        raise DownloadError(f"{path}: MD5 {got} does not match the published {remote.md5} for {remote.url}; "
                            f"the file is corrupt or not the expected release. Delete it and fetch again.")


def download(remote: Remote, cache: Path, timeout: float = 30.0, progress: bool = True) -> Path:
    """The file in the cache, downloading (or resuming) it if needed, verified."""
    cache.mkdir(parents=True, exist_ok=True)
    target, part = cache / remote.name, cache / f"{remote.name}.part"
    if target.exists():
        try:
            _verify(target, remote)
        except DownloadError as e:
            # A corrupt cached copy must not hide a good one later: set it aside (kept, not deleted).
            bad = cache / f"{remote.name}.bad"
            target.replace(bad)
            raise DownloadError(f"{e} (moved aside to {bad}, so the next fetch gets a fresh copy)") from None
        return target
    have = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    try:
        response = requests.get(remote.url, headers=headers, stream=True, timeout=timeout)
    except requests.RequestException as e:
        raise DownloadError(f"could not download {remote.url} ({e.__class__.__name__}: {e}). "
                            f"Offline? Put {remote.name} at {target}, or pass --source DIR holding it.") from e
    with response:
        if response.status_code == 416 and have:          # nothing left to fetch: the part is whole
            response_length, mode = have, None
        elif response.status_code == 206 and have:
            response_length, mode = have + int(response.headers.get("Content-Length", 0)), "ab"
        elif response.status_code == 200:
            have, mode = 0, "wb"                           # server ignored the range: start again
            response_length = int(response.headers.get("Content-Length", 0))
        else:
            raise DownloadError(f"{remote.url}: HTTP {response.status_code}")
        if mode:
            with open(part, mode) as f, tqdm(total=response_length or None, initial=have, unit="B",
                                             unit_scale=True, desc=remote.name, disable=not progress) as bar:
                try:
                    for block in response.iter_content(CHUNK):
                        f.write(block)
                        bar.update(len(block))
                except requests.RequestException as e:
                    raise DownloadError(f"{remote.url}: transfer cut off after {part.stat().st_size} bytes "
                                        f"({e.__class__.__name__}); run again to resume") from e
    size = part.stat().st_size
    if response_length and size != response_length:
        raise DownloadError(f"{remote.url}: got {size} of {response_length} bytes; run again to resume")
    try:
        _verify(part, remote)
    except DownloadError:
        part.unlink()
        raise
    part.rename(target)
    return target


def safe_extract(archive: Path, out_dir: Path) -> list[Path]:
    """Extracts a zip, refusing any member that would land outside out_dir."""
    out_dir = out_dir.resolve()
    try:
        z = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as e:
        raise DownloadError(f"{archive}: not a readable zip archive ({e}); delete it and fetch again") from e
    with z:
        for member in z.namelist():
            path = PurePosixPath(member)
            dest = (out_dir / member).resolve()
            if path.is_absolute() or ".." in path.parts or not dest.is_relative_to(out_dir):
                raise DownloadError(f"{archive}: member {member!r} would be written outside {out_dir}; refused")
        z.extractall(out_dir)
        return [out_dir / m for m in z.namelist()]


def unverified(dataset: str) -> list[str]:
    """The files of a data set fetched without a checksum to verify them against."""
    return [remote.name for remote in DATASETS[dataset] if not remote.md5]


def fetch(dataset: str, out_dir: Path, cache: Path, source: Path | None = None, progress: bool = True) -> Path:
    """Puts a data set under out_dir in the layout the data stage reads:
    ml-1m -> out_dir/ml-1m/*.dat, ml-100k -> out_dir/ml-100k/u.*, ml-10m -> out_dir/ml-10M100K/*.dat,
    ml-20m, ml-25m, ml-latest, ml-latest-small -> out_dir/<name>/*.csv, imdb -> out_dir/imdb/*.tsv.gz."""
    if dataset not in DATASETS:
        raise ValueError(f"unknown data set {dataset!r}; choose from {sorted(DATASETS)}")
    for flag, folder in (("--out", out_dir), ("--cache", cache), ("--source", source)):
        if folder is not None and Path(folder).exists() and not Path(folder).is_dir():
            raise DownloadError(f"{flag} {folder} is a file, not a folder")
    if source is not None and not Path(source).exists():
        raise DownloadError(f"--source {source}: no such folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    for remote in DATASETS[dataset]:
        if source is not None:
            given = Path(source) / remote.name
            if not given.exists():
                raise DownloadError(f"--source {source}: {remote.name} is not there (expected {given})")
            if not given.is_file():
                raise DownloadError(f"--source {source}: {given} is a folder, not the archive {remote.name}")
            cache.mkdir(parents=True, exist_ok=True)
            cached = cache / remote.name
            # The given file wins over a cached copy that differs (or failed its checksum before).
            if not cached.exists() or md5sum(cached) != md5sum(given):
                part = cache / f"{remote.name}.part"
                shutil.copyfile(given, part)
                part.replace(cached)
        path = download(remote, cache, progress=progress)
        if path.suffix == ".zip":
            safe_extract(path, out_dir)
        else:
            (out_dir / dataset).mkdir(exist_ok=True)
            shutil.copyfile(path, out_dir / dataset / remote.name)
    return out_dir
