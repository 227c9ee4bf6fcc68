"""The built-in OpenSim model and the automatic SynthPose marker placement."""

from __future__ import annotations

import numpy as np
import opensim
import pytest

from opencapbench.keypoints import SYNTHPOSE_MARKER_NAMES
from opencapbench.osim.logs import load_model
from opencapbench.osim.markers import (
    attach_synthpose_markers,
    body_scale_factors,
    load_synthpose_markers,
)
from opencapbench.osim.model_builder import (
    COORDINATE_NAMES,
    GENERIC_HEIGHT_M,
    GENERIC_MASS_KG,
    build_compact_model,
    write_compact_model,
)

OPENCAP_COORDINATES = (
    ["pelvis_tilt", "pelvis_list", "pelvis_rotation", "pelvis_tx", "pelvis_ty", "pelvis_tz"]
    + [f"{c}_{s}" for s in "rl" for c in ("hip_flexion", "hip_adduction", "hip_rotation")]
    + [f"{c}_{s}" for s in "rl" for c in ("knee_angle", "ankle_angle", "subtalar_angle")]
    + [f"mtp_angle_{s}" for s in "rl"]
    + ["lumbar_extension", "lumbar_bending", "lumbar_rotation"]
    + [f"{c}_{s}" for s in "rl" for c in ("arm_flex", "arm_add", "arm_rot", "elbow_flex")]
    + [f"pro_sup_{s}" for s in "rl"]
)


def _names(model_set) -> set[str]:
    return {model_set.get(i).getName() for i in range(model_set.getSize())}


def test_compact_model_builds_with_opencap_coordinates(tmp_path) -> None:
    model = build_compact_model(height_m=1.80, mass_kg=80.0)
    assert _names(model.getCoordinateSet()) == set(OPENCAP_COORDINATES) == set(COORDINATE_NAMES)
    bodies = _names(model.getBodySet())
    for b in ("pelvis", "torso") + tuple(
        f"{b}_{s}" for s in "rl" for b in ("femur", "tibia", "talus", "calcn", "toes")
    ):
        assert b in bodies
    for s in "rl":
        assert {f"humerus_{s}", f"radius_{s}", f"hand_{s}"} <= bodies
    total = sum(model.getBodySet().get(i).getMass() for i in range(model.getNumBodies()))
    assert total == pytest.approx(80.0, rel=1e-9)
    # written with printToXML and readable again, with the same coordinates and height scale
    written = write_compact_model(tmp_path / "m.osim", height_m=1.80, mass_kg=80.0)
    reloaded = load_model(tmp_path / "m.osim")
    reloaded.initSystem()
    assert written.getName() == reloaded.getName()
    assert _names(reloaded.getCoordinateSet()) == set(COORDINATE_NAMES)
    factors = body_scale_factors(reloaded)
    np.testing.assert_allclose(factors["femur_r"], [1.8 / GENERIC_HEIGHT_M] * 3)


def test_compact_model_reproduces_laiuhlrich2022_kinematics(shared_dir) -> None:
    """Same joint frames, axes and signs: with the knees straight (where the walker knee's
    coupled translations are below 0.03 mm) every body lands where LaiUhlrich2022 puts it."""
    lai = load_model(shared_dir / "reference" / "opensim" / "LaiUhlrich2022.osim")
    ours = build_compact_model(GENERIC_HEIGHT_M, GENERIC_MASS_KG)
    s_lai, s_ours = lai.initSystem(), ours.initSystem()
    rng = np.random.default_rng(0)
    for _ in range(3):
        values = {}
        for name in COORDINATE_NAMES:
            if name.startswith("knee_angle"):
                values[name] = 0.0
            elif name.startswith("pelvis_t"):
                values[name] = rng.uniform(-0.5, 0.5)
            elif name.startswith(("elbow_flex", "pro_sup")):
                values[name] = rng.uniform(0.1, 1.5)
            else:
                values[name] = rng.uniform(-0.5, 0.5)
        for model, state in ((lai, s_lai), (ours, s_ours)):
            for name, v in values.items():
                model.getCoordinateSet().get(name).setValue(state, v, False)
            model.realizePosition(state)
        for i in range(ours.getNumBodies()):
            body = ours.getBodySet().get(i)
            ref = lai.getBodySet().get(body.getName())
            np.testing.assert_allclose(
                body.getTransformInGround(s_ours).p().to_numpy(),
                ref.getTransformInGround(s_lai).p().to_numpy(),
                atol=1e-4,
                err_msg=body.getName(),
            )
            # orientation: where the body's unit axes go
            for axis in np.eye(3):
                v = opensim.Vec3(*axis)
                np.testing.assert_allclose(
                    body.expressVectorInGround(s_ours, v).to_numpy(),
                    ref.expressVectorInGround(s_lai, v).to_numpy(),
                    atol=1e-4,
                    err_msg=body.getName(),
                )


def test_marker_file_holds_the_33_model_markers() -> None:
    markers = load_synthpose_markers()
    assert len(markers) == 33
    assert set(SYNTHPOSE_MARKER_NAMES) - set(markers) == {"r_big_toe", "l_big_toe"}
    assert markers["r_ASIS"].body == "pelvis"
    assert markers["r_ASIS"].location == pytest.approx((0.028, 0.01, 0.128))
    assert markers["l_calc"].location == pytest.approx((-0.0321615, 0.0325693, 0.0111695))


def test_markers_on_built_in_model_are_scaled(tmp_path) -> None:
    write_compact_model(tmp_path / "m.osim", height_m=1.87, mass_kg=75.0)
    report = attach_synthpose_markers(tmp_path / "m.osim", tmp_path / "m_markers.osim")
    assert report.by_method("scaled") == list(load_synthpose_markers())
    model = load_model(tmp_path / "m_markers.osim")
    model.initSystem()
    generic = load_synthpose_markers()
    assert model.getNumMarkers() == 33
    for name, spec in generic.items():
        marker = model.getMarkerSet().get(name)
        assert marker.getParentFrame().getName() == spec.body
        np.testing.assert_allclose(
            marker.get_location().to_numpy(), np.array(spec.location) * 1.1, atol=1e-9
        )
    # re-running on the result keeps the markers as they are
    again = attach_synthpose_markers(tmp_path / "m_markers.osim", tmp_path / "again.osim")
    assert again.by_method("kept") == list(generic)
    np.testing.assert_allclose(
        [p.location for p in again.placements], [p.location for p in report.placements]
    )


def _lai_with_mocap_markers(shared_dir, path) -> dict[str, np.ndarray]:
    """LaiUhlrich2022 with a few OpenCap mocap markers and a non-uniformly scaled femur_r
    mesh (what the ScaleTool leaves in a scaled model); returns the mocap locations."""
    lai = load_model(shared_dir / "reference" / "opensim" / "LaiUhlrich2022.osim")
    bodies = lai.getBodySet()
    mocap = {
        "r.ASIS_study": ("pelvis", np.array([0.031, 0.012, 0.125])),
        "L.PSIS": ("pelvis", np.array([-0.15, 0.03, -0.055])),
        "R_Sternum": ("torso", np.array([0.05, 0.38, 0.01])),
        "L_Sternum": ("torso", np.array([0.05, 0.39, -0.01])),
        "C7_study": ("torso", np.array([-0.085, 0.41, 0.002])),
    }
    for name, (body, loc) in mocap.items():
        lai.addMarker(opensim.Marker(name, bodies.get(body), opensim.Vec3(*loc)))
    femur = bodies.get("femur_r")
    femur.upd_attached_geometry(0).set_scale_factors(opensim.Vec3(1.1, 1.2, 0.9))
    lai.finalizeConnections()
    lai.printToXML(str(path))
    return {k: v for k, (_, v) in mocap.items()}


def test_placement_on_laiuhlrich2022(shared_dir, tmp_path) -> None:
    ref_set = opensim.MarkerSet(
        str(
            shared_dir
            / "reference"
            / "opensim"
            / "RajagopalModified2016_markers_mmpose_final_adjusted.xml"
        )
    )
    reference = {
        ref_set.get(i).getName(): (
            ref_set.get(i).getSocket("parent_frame").getConnecteePath().split("/")[-1],
            ref_set.get(i).get_location().to_numpy(),
        )
        for i in range(ref_set.getSize())
    }
    src = tmp_path / "lai_mocap.osim"
    mocap = _lai_with_mocap_markers(shared_dir, src)
    report = attach_synthpose_markers(src, tmp_path / "lai_synthpose.osim")

    copied = {p.name: p for p in report.placements if p.method == "copied"}
    assert set(copied) == {"r_ASIS", "l_PSIS", "sternum", "C7"}
    assert copied["r_ASIS"].source == "r.ASIS_study"
    np.testing.assert_allclose(copied["r_ASIS"].location, mocap["r.ASIS_study"])
    np.testing.assert_allclose(
        copied["sternum"].location, (mocap["R_Sternum"] + mocap["L_Sternum"]) / 2
    )
    assert len(report.by_method("scaled")) == 29 and not report.by_method("skipped")

    model = load_model(tmp_path / "lai_synthpose.osim")
    model.initSystem()
    for name, (body, ref_loc) in reference.items():
        marker = model.getMarkerSet().get(name)
        assert marker.getParentFrame().getName() == body, name
        loc = marker.get_location().to_numpy()
        if name.startswith("r_") and body == "femur_r":
            np.testing.assert_allclose(loc, ref_loc * [1.1, 1.2, 0.9], atol=1e-9)
        else:  # unscaled bodies keep the reference location; copied ones land close to it
            assert np.linalg.norm(loc - ref_loc) < 0.02, name
            if name not in copied:
                np.testing.assert_allclose(loc, ref_loc, atol=1e-9)
