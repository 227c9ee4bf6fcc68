"""The registered models: names, Hugging Face repositories, pinned revisions, weight digests.

Torch-free (``ocb --help`` reads it).  A registered pose model downloads only its weights from
the pinned revision; its architecture comes from a config bundled with the package
(:data:`BUNDLED_CONFIGS`), so nothing downloaded is ever executed.  The weights' SHA-256 is
checked before loading (:class:`ModelIntegrityError` on mismatch).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: MMPose-format configs of the registered models, shipped as package data.
BUNDLED_CONFIGS = Path(__file__).resolve().parents[1] / "pose" / "configs"


@dataclass(frozen=True)
class ModelEntry:
    """A registered model.

    Attributes:
        name: the name users pass to ``--model``.
        kind: "mmpose" (:mod:`opencapbench.pose`, bundled config) or "vitpose"
            (``transformers``; its ``config.json`` is data, read without executing anything).
        repo_id: Hugging Face repository.
        revision: pinned commit (40 hex digits) of ``repo_id``.
        weights: file name of the weights in the repository.
        sha256: hex SHA-256 of ``weights``.
        config: the bundled config, relative to :data:`BUNDLED_CONFIGS` (an absolute path is
            taken as is); "" for "vitpose".
        extra_files: further repository files needed (the ViTPose JSON configs).
        description: one line for ``--help``.
    """

    name: str
    kind: str
    repo_id: str
    revision: str
    weights: str
    sha256: str
    config: str = ""
    extra_files: tuple[str, ...] = ()
    description: str = ""

    @property
    def config_path(self) -> Path:
        return BUNDLED_CONFIGS / self.config

    @property
    def hub_files(self) -> tuple[str, ...]:
        """Repository files to download, weights last."""
        return (*self.extra_files, self.weights)


@dataclass(frozen=True)
class DetectorEntry:
    """The default person detector (RT-DETR, safetensors weights and JSON configs)."""

    repo_id: str
    revision: str
    files: tuple[str, ...]


# The revisions and digests below are placeholders in the right format (40 / 64 hex digits):
# the real ones could not be read offline.  Replace them with the values of
# `hf download <repo_id> <file>` + `sha256sum` before a release.
MODELS: dict[str, ModelEntry] = {
    e.name: e
    for e in (
        ModelEntry(
            name="synthpose-hrnet48",
            kind="mmpose",
            repo_id="stanfordmimi/synthpose-hrnet-48-mmpose",
            revision="cb6b7266f1cbd9d0bb4b58a5f6dfa5b0e2a9f3c1",
            weights="hrnet-w48_dark.pth",
            sha256="5f0c4e1d2a7b9c3e8f6a1d4b7e2c9f0a3b6d8e1f4a7c2b5e8d0f3a6c9b2e5d81",
            config="td-hm_hrnet-w48_dark-8xb32-210e_synthpose_inference.py",
            description="SynthPose HRNet-W48 + DARK, 384x288, COCO-17 + 35 anatomical markers",
        ),
        ModelEntry(
            name="synthpose-vitpose-base",
            kind="vitpose",
            repo_id="stanfordmimi/synthpose-vitpose-base-hf",
            revision="4e2b9a71c0d3f8e6a5b1c7d9e2f4a6b8c0d1e3f5",
            weights="model.safetensors",
            sha256="9a3c5e7f1b2d4f6a8c0e2b4d6f8a1c3e5b7d9f2a4c6e8b0d2f4a6c8e1b3d5f70",
            extra_files=("config.json", "preprocessor_config.json"),
            description="SynthPose ViTPose-Base (transformers), 256x192, 52 keypoints",
        ),
        ModelEntry(
            name="synthpose-vitpose-huge",
            kind="vitpose",
            repo_id="stanfordmimi/synthpose-vitpose-huge-hf",
            revision="7d1f3b5a9c2e4f6b8d0a1c3e5f7b9d2a4c6e8f0b",
            weights="model.safetensors",
            sha256="2c4e6a8b0d1f3a5c7e9b2d4f6a8c0e1b3d5f7a9c2e4b6d8f0a1c3e5b7d9f2a46",
            extra_files=("config.json", "preprocessor_config.json"),
            description="SynthPose ViTPose-Huge (transformers), 256x192, 52 keypoints (2.5 GB)",
        ),
    )
}

#: RT-DETR R50vd (COCO + Objects365), the default person detector.
DEFAULT_DETECTOR = DetectorEntry(
    repo_id="PekingU/rtdetr_r50vd_coco_o365",
    revision="b1a3c5e7f9d2b4a6c8e0f1d3b5a7c9e2f4d6b8a0",
    files=("config.json", "preprocessor_config.json", "model.safetensors"),
)

#: the pose model used when none is named
DEFAULT_MODEL = "synthpose-hrnet48"


def list_models() -> list[str]:
    """Registered model names, sorted."""
    return sorted(MODELS)
