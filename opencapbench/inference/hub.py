"""Model files from the Hugging Face Hub, cached by ``huggingface_hub``.

Files land in the standard cache (``$HF_HOME/hub``, default ``~/.cache/huggingface/hub``)
and are reused offline (``HF_HUB_OFFLINE=1``).  When a file is neither cached nor
downloadable, :class:`ModelNotAvailableError` says what to download and where it must go.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

from opencapbench.inference.catalog import ModelEntry
from opencapbench.inference.errors import ModelIntegrityError, ModelNotAvailableError

log = logging.getLogger(__name__)


def _cache_dir() -> str:
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


def _offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def _not_available(
    repo_id: str,
    files: Sequence[str],
    exc: BaseException,
    revision: str | None = None,
    model: str | None = None,
) -> ModelNotAvailableError:
    listed = " ".join(files) if files else "(the whole repository)"
    why = (
        "offline mode is on (HF_HUB_OFFLINE=1) and they are not in the cache"
        if _offline()
        else f"the download failed ({type(exc).__name__}: {exc})"
    )
    rev = f" --revision {revision}" if revision else ""
    fetch = f"`ocb fetch-models {model}`" if model else "`ocb fetch-models`"
    cmd = f"hf download {repo_id} {' '.join(files)}{rev}".rstrip()
    return ModelNotAvailableError(
        f"model files {listed} of the Hugging Face repository {repo_id!r} are needed but "
        f"{why}.\n  Cache folder: {_cache_dir()} (set by HF_HOME / HF_HUB_CACHE).\n"
        f"  Fix: on a machine with internet run {fetch} (or `{cmd}`) with the same HF_HOME, "
        "then copy that cache folder here; or pass local files instead of the model name."
    )


def _go_offline() -> None:
    """After a failed download, stop asking the network for the rest of this process: every
    later model then fails at once instead of after another round of retries."""
    from huggingface_hub import constants

    if not constants.HF_HUB_OFFLINE:
        os.environ["HF_HUB_OFFLINE"] = "1"
        constants.HF_HUB_OFFLINE = True
        log.warning("a download failed: Hugging Face Hub offline mode is on for this run")


def _hub_errors() -> tuple[type[BaseException], ...]:
    from huggingface_hub import errors

    names = (
        "LocalEntryNotFoundError",
        "OfflineModeIsEnabled",
        "RepositoryNotFoundError",
        "EntryNotFoundError",
        "RevisionNotFoundError",
        "HfHubHTTPError",
    )
    return tuple(getattr(errors, n) for n in names if hasattr(errors, n)) + (OSError,)


def hub_files(
    repo_id: str, filenames: Sequence[str], revision: str | None = None, model: str | None = None
) -> list[Path]:
    """Local paths of ``filenames`` from ``repo_id`` (downloaded once, then cached).

    On failure the error lists every file of the set, so one command fetches them all, and
    offline mode is switched on for the rest of the process.
    """
    from huggingface_hub import hf_hub_download

    try:
        return [
            Path(hf_hub_download(repo_id=repo_id, filename=f, revision=revision)) for f in filenames
        ]
    except _hub_errors() as exc:
        error = _not_available(repo_id, list(filenames), exc, revision, model)
        _go_offline()
        raise error from exc


def sha256_of(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes (read in 1 MiB chunks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def pins_file() -> Path:
    """Where the commits and digests of first downloads are pinned (``$OCB_HOME`` or
    ``~/.cache/opencapbench``)."""
    home = os.environ.get("OCB_HOME") or Path.home() / ".cache" / "opencapbench"
    return Path(home) / "model_pins.json"


def _read_pins() -> dict[str, dict[str, str]]:
    path = pins_file()
    if not path.is_file():
        return {}
    try:
        pins = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelIntegrityError(
            f"{path}: the pinned model digests cannot be read ({exc}); delete the file to pin "
            "the models again at their next download"
        ) from None
    return pins if isinstance(pins, dict) else {}


def _commit_of(path: Path) -> str | None:
    """The commit of a file in huggingface_hub's cache (``…/snapshots/<commit>/<file>``)."""
    parts = path.parts
    return parts[parts.index("snapshots") + 1] if "snapshots" in parts else None


def fetch_model(entry: ModelEntry) -> list[Path]:
    """Local paths of ``entry.hub_files`` at the pinned revision, weights last, checked.

    The revision and SHA-256 come from the catalog; a model whose catalog entry has none is
    pinned at its first download (its commit and digest are recorded in :func:`pins_file`,
    with a warning) and every later load must match them.

    Raises:
        ModelNotAvailableError: not cached and not downloadable.
        ModelIntegrityError: the weights' SHA-256 differs from the pinned one.
    """
    from opencapbench.io.atomic import atomic_write

    pins = _read_pins()
    pin = pins.get(entry.name, {})
    revision = entry.revision or pin.get("revision")
    paths = hub_files(entry.repo_id, entry.hub_files, revision=revision, model=entry.name)
    actual = sha256_of(paths[-1])
    expected = entry.sha256 or pin.get("sha256")
    if expected is None:
        pins[entry.name] = {"repo_id": entry.repo_id, "revision": _commit_of(paths[-1]) or "",
                            "weights": entry.weights, "sha256": actual}  # fmt: skip
        with atomic_write(pins_file()) as fh:
            json.dump(pins, fh, indent=2)
        log.warning(
            "model %r has no published digest in this release: pinned its first download "
            "(%s@%s, SHA-256 %s) in %s; later loads must match it",
            entry.name, entry.repo_id, pins[entry.name]["revision"], actual, pins_file(),
        )  # fmt: skip
    elif actual != expected.lower():
        where = (
            "pinned for" if entry.sha256 else f"pinned at its first download ({pins_file()}) for"
        )
        raise ModelIntegrityError(
            f"{paths[-1]}: SHA-256 {actual} differs from {expected} {where} model "
            f"{entry.name!r} ({entry.repo_id}@{revision or 'main'}); the file is corrupt or not "
            "the published one: delete it and download again"
        )
    return paths


def hub_snapshot(
    repo_id: str, allow_patterns: Sequence[str] | None = None, revision: str | None = None
) -> Path:
    """Local folder holding ``repo_id`` (only the files matching ``allow_patterns``).

    When the patterns ask for ``*.safetensors`` weights but the repository has none, the
    PyTorch ``*.bin`` weights are fetched instead.
    """
    from huggingface_hub import snapshot_download

    def fetch(patterns: list[str] | None) -> Path:
        try:
            return Path(
                snapshot_download(repo_id=repo_id, allow_patterns=patterns, revision=revision)
            )
        except _hub_errors() as exc:
            raise _not_available(repo_id, list(patterns or []), exc) from exc

    patterns = list(allow_patterns) if allow_patterns else None
    folder = fetch(patterns)
    if patterns and "*.safetensors" in patterns and not any(folder.glob("*.safetensors")):
        folder = fetch([p for p in patterns if p != "*.safetensors"] + ["*.bin"])
    if not (folder / "config.json").is_file():
        raise ModelNotAvailableError(
            f"{repo_id}: the cached snapshot {folder} has no config.json (incomplete download); "
            f"delete it and download again."
        )
    return folder


def is_local(spec: str | os.PathLike) -> bool:
    """True when ``spec`` names an existing local file or folder."""
    return Path(spec).expanduser().exists()
