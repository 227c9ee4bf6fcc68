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
        revision: pinned commit (40 hex digits) of ``repo_id``; None: the commit of the first
            download is pinned locally (see :func:`opencapbench.inference.hub.fetch_model`).
        weights: file name of the weights in the repository.
        sha256: hex SHA-256 of ``weights``; None: the digest of the first download is pinned
            locally and every later load is checked against it.
        config: the bundled config, relative to :data:`BUNDLED_CONFIGS` (an absolute path is
            taken as is); "" for "vitpose".
        extra_files: further repository files needed (the ViTPose JSON configs).
        description: one line for ``--help``.
    """

    name: str
    kind: str
    repo_id: str
    revision: str | None
    weights: str
    sha256: str | None
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
    revision: str | None
    files: tuple[str, ...]


# No commit or digest is bundled yet: they could not be read on the offline machine this
# catalog was written on, and a made-up value would refuse the real file.  Until they are
# filled in (`ocb fetch-models --pins` prints them after a download), the first download of
# each model is pinned locally, trust on first use, and every later load is checked against it.
MODELS: dict[str, ModelEntry] = {
    e.name: e
    for e in (
        ModelEntry(
            name="synthpose-hrnet48",
            kind="mmpose",
            repo_id="stanfordmimi/synthpose-hrnet-48-mmpose",
            revision=None,
            weights="hrnet-w48_dark.pth",
            sha256=None,
            config="td-hm_hrnet-w48_dark-8xb32-210e_synthpose_inference.py",
            description="SynthPose HRNet-W48 + DARK, 384x288, COCO-17 + 35 anatomical markers",
        ),
        ModelEntry(
            name="synthpose-vitpose-base",
            kind="vitpose",
            repo_id="stanfordmimi/synthpose-vitpose-base-hf",
            revision=None,
            weights="model.safetensors",
            sha256=None,
            extra_files=("config.json", "preprocessor_config.json"),
            description="SynthPose ViTPose-Base (transformers), 256x192, 52 keypoints",
        ),
        ModelEntry(
            name="synthpose-vitpose-huge",
            kind="vitpose",
            repo_id="stanfordmimi/synthpose-vitpose-huge-hf",
            revision=None,
            weights="model.safetensors",
            sha256=None,
            extra_files=("config.json", "preprocessor_config.json"),
            description="SynthPose ViTPose-Huge (transformers), 256x192, 52 keypoints (2.5 GB)",
        ),
    )
}

#: RT-DETR R50vd (COCO + Objects365), the default person detector.
DEFAULT_DETECTOR = DetectorEntry(
    repo_id="PekingU/rtdetr_r50vd_coco_o365",
    revision=None,
    files=("config.json", "preprocessor_config.json", "model.safetensors"),
)

#: RTMPose/RTMW ONNX models as rtmlib and Pose2Sim run them (openmmlab's public onnx_sdk zips)
_SDK = "https://download.openmmlab.com/mmpose/v1/projects"


@dataclass(frozen=True)
class RTMPoseSpec:
    """A registered RTMPose/RTMW ONNX model: its public zip and what it outputs."""

    name: str
    url: str
    input_size: tuple[int, int]  # (w, h)
    keypoint_set: str
    description: str


RTMPOSE_MODELS: dict[str, RTMPoseSpec] = {
    spec.name: spec
    for spec in (
        RTMPoseSpec(
            "rtmpose-s-halpe26",
            f"{_SDK}/rtmposev1/onnx_sdk/rtmpose-s_simcc-body7_pt-body7-halpe26_700e-256x192-7f134165_20230605.zip",
            (192, 256),
            "halpe26",
            "RTMPose-s Body7 HALPE-26, 256x192 (rtmlib/Pose2Sim 'lightweight' body with feet)",
        ),
        RTMPoseSpec(
            "rtmpose-m-halpe26",
            f"{_SDK}/rtmposev1/onnx_sdk/rtmpose-m_simcc-body7_pt-body7-halpe26_700e-256x192-4d3e73dd_20230605.zip",
            (192, 256),
            "halpe26",
            "RTMPose-m Body7 HALPE-26, 256x192 (rtmlib/Pose2Sim 'balanced', Pose2Sim's default)",
        ),
        RTMPoseSpec(
            "rtmpose-x-halpe26",
            f"{_SDK}/rtmposev1/onnx_sdk/rtmpose-x_simcc-body7_pt-body7-halpe26_700e-384x288-7fb6e239_20230606.zip",
            (288, 384),
            "halpe26",
            "RTMPose-x Body7 HALPE-26, 384x288 (rtmlib/Pose2Sim 'performance')",
        ),
        RTMPoseSpec(
            "rtmw-x-wholebody",
            f"{_SDK}/rtmw/onnx_sdk/rtmw-x_simcc-cocktail13_pt-ucoco_270e-384x288-0949e3a9_20230925.zip",
            (288, 384),
            "coco_wholebody",
            "RTMW-x Cocktail13 COCO-WholeBody (133), 384x288 (rtmlib Wholebody 'performance')",
        ),
        RTMPoseSpec(
            "rtmw-x-wholebody-256",
            f"{_SDK}/rtmw/onnx_sdk/rtmw-x_simcc-cocktail13_pt-ucoco_270e-256x192-fbef0d61_20230925.zip",
            (192, 256),
            "coco_wholebody",
            "RTMW-x Cocktail13 COCO-WholeBody (133), 256x192 (rtmlib Wholebody 'balanced')",
        ),
    )
}


#: the pose model used when none is named
DEFAULT_MODEL = "synthpose-hrnet48"


def model_keypoint_set(name: str) -> str | None:
    """The keypoint set a registered model outputs; None for a config path or model folder
    (its set is known once it has written keypoints)."""
    if name in RTMPOSE_MODELS:
        return RTMPOSE_MODELS[name].keypoint_set
    if name in MODELS:
        return "synthpose52"  # every MMPose/ViTPose entry is a SynthPose model
    return None


def list_models() -> list[str]:
    """Registered model names (MMPose/ViTPose and RTMPose ONNX), sorted."""
    return sorted([*MODELS, *RTMPOSE_MODELS])
