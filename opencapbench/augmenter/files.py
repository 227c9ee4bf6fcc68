"""Where the augmenter's model files come from: a local copy, or a one-time download.

Files are fetched from opencap-core at the pinned commit
(:data:`~opencapbench.augmenter.versions.OPENCAP_CORE_COMMIT`), checked against their published
SHA-256, and cached in ``$OPENCAPBENCH_CACHE`` (default ``$XDG_CACHE_HOME/opencapbench``, i.e.
``~/.cache/opencapbench``) under ``augmenter/<commit>/<model dir>/``; later runs use the cache
offline.  A local copy (``augmenter_dir`` / ``--augmenter-dir``) holds the model directories
(``v0.3_lower/``, ``v0.3_upper/``, …) as in opencap-core's ``MarkerAugmenter/LSTM``.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

from opencapbench.augmenter.errors import AugmenterFileError
from opencapbench.augmenter.versions import (
    FILES,
    MODEL_FILE_SHA256,
    OPENCAP_CORE_COMMIT,
    URL_TEMPLATES,
    get_version,
)
from opencapbench.io.atomic import atomic_path

__all__ = ["augmenter_cache_dir", "model_dirs", "sha256_of"]

log = logging.getLogger(__name__)


def augmenter_cache_dir() -> Path:
    """Cache folder of the downloaded model files (see the module docstring)."""
    root = (
        os.environ.get("OPENCAPBENCH_CACHE")
        or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "opencapbench"
    )
    return Path(root) / "augmenter" / OPENCAP_CORE_COMMIT[:12]


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _download(model: str, file: str, dest: Path) -> None:
    from torch.hub import download_url_to_file

    from opencapbench.inference.errors import ModelNotAvailableError

    expected = MODEL_FILE_SHA256[f"{model}/{file}"]
    dest.parent.mkdir(parents=True, exist_ok=True)
    errors = []
    for template in URL_TEMPLATES:
        url = template.format(commit=OPENCAP_CORE_COMMIT, model=model, file=file)
        try:
            # the hash is checked before the file takes its final name
            with atomic_path(dest) as tmp:
                download_url_to_file(url, str(tmp), hash_prefix=expected, progress=False)
            log.info("downloaded %s", url)
            return
        except Exception as exc:  # noqa: BLE001 - any failure: try the next URL, then report
            errors.append(f"{url}: {type(exc).__name__}: {exc}")
    raise ModelNotAvailableError(
        f"marker-augmenter file {model}/{file} is not in the cache {dest.parent.parent} and "
        f"could not be downloaded:\n  " + "\n  ".join(errors) + "\n  Fix: copy opencap-core's "
        f"MarkerAugmenter/LSTM folders (commit {OPENCAP_CORE_COMMIT[:8]}) to a folder and pass "
        "it as --augmenter-dir (augmenter_dir=...), or copy them into the cache folder above."
    )


def model_dirs(version: str, augmenter_dir: str | os.PathLike | None = None) -> tuple[Path, Path]:
    """The lower- and upper-body model directories of a version, verified.

    Args:
        version: ``v0.1``, ``v0.2`` or ``v0.3``.
        augmenter_dir: a local copy holding ``<version>_lower/`` and ``<version>_upper/``;
            None to use (and fill) the download cache.

    Raises:
        AugmenterFileError: a local or cached file is missing or its SHA-256 differs from the
            published one (the message names the file).
        ModelNotAvailableError: a file is neither cached nor downloadable.
    """
    v = get_version(version)
    base = Path(augmenter_dir) if augmenter_dir is not None else augmenter_cache_dir()
    out = []
    for model in (v.lower_dir, v.upper_dir):
        folder = base / model
        for file in FILES:
            path = folder / file
            if not path.is_file():
                if augmenter_dir is not None:
                    raise AugmenterFileError(
                        f"{path}: missing; --augmenter-dir must hold opencap-core's "
                        f"MarkerAugmenter/LSTM/{model}/ files {', '.join(FILES)}"
                    )
                _download(model, file, path)
            digest = sha256_of(path)
            if digest != MODEL_FILE_SHA256[f"{model}/{file}"]:
                raise AugmenterFileError(
                    f"{path}: SHA-256 {digest[:16]}… differs from opencap-core's "
                    f"{MODEL_FILE_SHA256[f'{model}/{file}'][:16]}… (corrupt or another version)"
                )
        out.append(folder)
    return out[0], out[1]
