"""OpenCap's LSTM marker-augmenter versions: input and output marker orders, published files.

Facts from opencap-core (``MarkerAugmenter/LSTM``, ``utils.py``, ``utilsAugmenter.py``) at the
pinned commit :data:`OPENCAP_CORE_COMMIT`; see ``docs`` of the prior-art note on the
augmenter.  Each version has a lower-body model (15 markers + height + mass → 35 markers) and
an upper-body model (7 markers + height + mass → 8 markers).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "FILES",
    "LOWER_INPUTS",
    "MODEL_FILE_SHA256",
    "OPENCAP_CORE_COMMIT",
    "REFERENCE_MARKER",
    "UPPER_INPUTS",
    "VERSIONS",
    "AugmenterVersion",
    "get_version",
]

#: opencap-core commit whose ``MarkerAugmenter/LSTM/<model>/<file>`` are downloaded.
OPENCAP_CORE_COMMIT = "d5a52589542e3329691bc26efef0a15b7d5cf38d"
#: Raw-file URL templates, tried in order (the repository moved to the opencap-org account).
URL_TEMPLATES: tuple[str, ...] = (
    "https://raw.githubusercontent.com/stanfordnmbl/opencap-core/{commit}/MarkerAugmenter/LSTM/{model}/{file}",
    "https://raw.githubusercontent.com/opencap-org/opencap-core/{commit}/MarkerAugmenter/LSTM/{model}/{file}",
)
#: Files of every model directory.
FILES: tuple[str, ...] = ("model.json", "weights.h5", "mean.npy", "std.npy", "metadata.json")

#: Marker subtracted from every input and added back to every output (not an input itself).
REFERENCE_MARKER = "midHip"

#: Lower-body model inputs (BODY_25 names), in feature order X0 Y0 Z0 X1 ...; then height and
#: mass.  Same order in every version.
LOWER_INPUTS: tuple[str, ...] = (
    "Neck", "RShoulder", "LShoulder", "RHip", "LHip", "RKnee", "LKnee", "RAnkle", "LAnkle",
    "RHeel", "LHeel", "RSmallToe", "LSmallToe", "RBigToe", "LBigToe",
)  # fmt: skip
#: Upper-body model inputs, same layout.
UPPER_INPUTS: tuple[str, ...] = (
    "Neck", "RShoulder", "LShoulder", "RElbow", "LElbow", "RWrist", "LWrist",
)  # fmt: skip


def _study(names: str) -> tuple[str, ...]:
    return tuple(f"{n}_study" for n in names.split())


_LOWER_V01_V02 = _study(
    "C7 r_shoulder L_shoulder r.ASIS L.ASIS r.PSIS L.PSIS r_knee L_knee r_mknee L_mknee "
    "r_ankle L_ankle r_mankle L_mankle r_calc L_calc r_toe L_toe r_5meta L_5meta "
    "r_thigh1 r_thigh2 r_thigh3 L_thigh1 L_thigh2 L_thigh3 r_sh1 r_sh2 r_sh3 L_sh1 L_sh2 L_sh3 "
    "RHJC LHJC"
)
# v0.3: right foot toe, 5meta, calc but left foot toe, calc, 5meta (as published)
_LOWER_V03 = _study(
    "r.ASIS L.ASIS r.PSIS L.PSIS r_knee r_mknee r_ankle r_mankle r_toe r_5meta r_calc "
    "L_knee L_mknee L_ankle L_mankle L_toe L_calc L_5meta r_shoulder L_shoulder C7 "
    "r_thigh1 r_thigh2 r_thigh3 L_thigh1 L_thigh2 L_thigh3 r_sh1 r_sh2 r_sh3 L_sh1 L_sh2 L_sh3 "
    "RHJC LHJC"
)
_UPPER_V01_V02 = _study("r_lelbow L_lelbow r_melbow L_melbow r_lwrist L_lwrist r_mwrist L_mwrist")
_UPPER_V03 = _study("r_lelbow r_melbow r_lwrist r_mwrist L_lelbow L_melbow L_lwrist L_mwrist")


@dataclass(frozen=True)
class AugmenterVersion:
    """One published version: its two model directories and their output marker orders."""

    name: str
    lower_outputs: tuple[str, ...]
    upper_outputs: tuple[str, ...]
    note: str

    @property
    def lower_dir(self) -> str:
        return f"{self.name}_lower"

    @property
    def upper_dir(self) -> str:
        return f"{self.name}_upper"

    @property
    def output_names(self) -> tuple[str, ...]:
        """The 43 predicted markers, lower then upper (the order OpenCap appends them)."""
        return self.lower_outputs + self.upper_outputs


VERSIONS: dict[str, AugmenterVersion] = {
    "v0.1": AugmenterVersion("v0.1", _LOWER_V01_V02, _UPPER_V01_V02, "OpenCap paper"),
    "v0.2": AugmenterVersion("v0.2", _LOWER_V01_V02, _UPPER_V01_V02, "OpenCap production 2022"),
    "v0.3": AugmenterVersion("v0.3", _LOWER_V03, _UPPER_V03, "marker enhancer; OpenCap default"),
}

#: SHA-256 of every published model file (``<model dir>/<file>``) at the pinned commit.
MODEL_FILE_SHA256: dict[str, str] = {
    "v0.1_lower/model.json": "b47b07589238bfa6f5f3dd2c9d7610bbbf28dcf9434b343f97827360f71737e5",
    "v0.1_lower/weights.h5": "48e6486a6680e2da4f89d567d6f6d82a1ad7fdff944c9fbd0cb8bea968ca7d51",
    "v0.1_lower/mean.npy": "f3d1025220eddb8e0a021d8141c415f772a2bff0d3dda41ddf3d419e68725586",
    "v0.1_lower/std.npy": "b16b288957fae4e94bd987c3aa6e6a3fb38584f0f7eb8e4078f6d330f1689847",
    "v0.1_lower/metadata.json": "d551db1e19fec302826cab7da5097055b4a85ed044a9ae23844dd63c83a91644",
    "v0.1_upper/model.json": "e39c92c4cc4fbb72f8cc5544d7999687fc586b70026ebaecd7e3d37b7118e679",
    "v0.1_upper/weights.h5": "925376119855cb9d567c394becf34e4a266995795329cd371fdc9479fac1cb29",
    "v0.1_upper/mean.npy": "f3abd96607523490e3aed3236a7fe7675bc837ca3b2810787c58351de540750c",
    "v0.1_upper/std.npy": "449cef4d5527b79e13dafbdb542d2b307d1b0885f9fbf74ac2b32eb1bb66b496",
    "v0.1_upper/metadata.json": "d551db1e19fec302826cab7da5097055b4a85ed044a9ae23844dd63c83a91644",
    "v0.2_lower/model.json": "c88ff5e93eb94d0902d40a7c4c4f44672403d4725577835871dd6d1820df00c2",
    "v0.2_lower/weights.h5": "5557a7a80c6df12a5a0928b2af6c45a4a875240154208c25404c885860e4f359",
    "v0.2_lower/mean.npy": "b1dcf25821ceaa0c14c49288cbe945b70921e6c09b42fbb81246072d96bf53ad",
    "v0.2_lower/std.npy": "78334841c8339507220c2ebf9274e3620a25baaf439a6e650f80887fa159f11f",
    "v0.2_lower/metadata.json": "d551db1e19fec302826cab7da5097055b4a85ed044a9ae23844dd63c83a91644",
    "v0.2_upper/model.json": "7a59627d28fb49d63dfd448b11b3396b9a6d4ed1a9e258eb6468bb6d62764ac9",
    "v0.2_upper/weights.h5": "4701abd3feb6a6fe54ce36d3b4021794ff2647e5776c848dc384135106e338cb",
    "v0.2_upper/mean.npy": "325cef37b009d75a371a90db12d3b282d2f39c74f2dcc347fdcefd89e3aad8c2",
    "v0.2_upper/std.npy": "e6a31dcce396a91c8b0bbb0f1f6632e258a6f4532bca3af659f3d84c72b2494d",
    "v0.2_upper/metadata.json": "d551db1e19fec302826cab7da5097055b4a85ed044a9ae23844dd63c83a91644",
    "v0.3_lower/model.json": "e2de4b5e1672424807dc4ef10f5bf0069b132db169a9019338ea88d33ba3ffe5",
    "v0.3_lower/weights.h5": "0fb5652c709e982665aaf50ed25ac4ff3a244324a95f333313e5d74de21aa389",
    "v0.3_lower/mean.npy": "e8783601a37f827c728bb1f2bbb143d66f59c92a3268306697cfc2932e99888f",
    "v0.3_lower/std.npy": "e7bcbe84f460666696fb500663a281c418ed20205aab9d8e1b18fd8568c77436",
    "v0.3_lower/metadata.json": "d551db1e19fec302826cab7da5097055b4a85ed044a9ae23844dd63c83a91644",
    "v0.3_upper/model.json": "f5109c8feadcc6eb44b1a4ab59246d59fe063949bd4324ae4c31112ffe4ca2e9",
    "v0.3_upper/weights.h5": "06c7419b741011858b03478ca20bd834e479b8c3bc20f9121900e426aaaadda4",
    "v0.3_upper/mean.npy": "d919b25a44f3a9438a69f0627ee3067d914796e4c42d3c48d0b3680ff2bbd7af",
    "v0.3_upper/std.npy": "7da7519963969616fb06b06b507f4615d72602cb078b20ca23f5e8c8bfbcd57e",
    "v0.3_upper/metadata.json": "d551db1e19fec302826cab7da5097055b4a85ed044a9ae23844dd63c83a91644",
}


def get_version(version: str) -> AugmenterVersion:
    """A version by name (``v0.1``, ``v0.2``, ``v0.3``; ``0.3`` is accepted too)."""
    from opencapbench.augmenter.errors import AugmenterError

    key = version if str(version).startswith("v") else f"v{version}"
    if key not in VERSIONS:
        raise AugmenterError(
            f"unknown marker-augmenter version {version!r}; known: {', '.join(VERSIONS)}"
        )
    return VERSIONS[key]
