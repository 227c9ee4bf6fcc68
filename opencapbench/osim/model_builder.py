"""The project's built-in compact full-body OpenSim model, built with the OpenSim API.

The model reproduces the skeleton of LaiUhlrich2022 (Rajagopal 2016 / Lai 2017 / Uhlrich 2022,
the model OpenCap and OpenCapBench use): same body names, same joint frames, same rotation
axes and order, same coordinate names, ranges and signs, so a joint angle means the same thing
in both.  It is "compact" in that it has no muscles, no patellae and a plain knee: one
``knee_angle`` rotation about the LaiUhlrich2022 knee axis, without the coupled knee
translations / secondary rotations of the walker knee.  The forearm keeps LaiUhlrich2022's two
bodies (ulna, radius) so that ``elbow_flex`` and ``pro_sup`` rotate about their real axes.

All joint frame offsets, axes and inertial properties below are those of the generic,
unscaled LaiUhlrich2022 model (a 1.70 m, 75.337 kg subject).  :func:`build_compact_model`
scales lengths uniformly by ``height_m / 1.70`` and masses by ``mass_kg / 75.337``, and records
the length scale in every body's attached geometry ``scale_factors`` (as OpenSim's ScaleTool
does), which :mod:`opencapbench.osim.markers` reads to place markers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import opensim

from opencapbench.io.atomic import atomic_path

__all__ = [
    "COORDINATE_NAMES",
    "GENERIC_HEIGHT_M",
    "GENERIC_MASS_KG",
    "build_compact_model",
    "scale_model_uniformly",
    "write_compact_model",
    "write_subject_model",
]

#: Height and mass of the generic (unscaled) LaiUhlrich2022 / Rajagopal 2016 model.
GENERIC_HEIGHT_M = 1.70
GENERIC_MASS_KG = 75.337

MODEL_NAME = "opencapbench_compact"

_PI2 = np.pi / 2

#: Coordinate names of the model in joint order (OpenCap / Rajagopal names).
COORDINATE_NAMES: tuple[str, ...] = (
    "pelvis_tilt", "pelvis_list", "pelvis_rotation", "pelvis_tx", "pelvis_ty", "pelvis_tz",
    "hip_flexion_r", "hip_adduction_r", "hip_rotation_r", "knee_angle_r", "ankle_angle_r",
    "subtalar_angle_r", "mtp_angle_r",
    "hip_flexion_l", "hip_adduction_l", "hip_rotation_l", "knee_angle_l", "ankle_angle_l",
    "subtalar_angle_l", "mtp_angle_l",
    "lumbar_extension", "lumbar_bending", "lumbar_rotation",
    "arm_flex_r", "arm_add_r", "arm_rot_r", "elbow_flex_r", "pro_sup_r",
    "arm_flex_l", "arm_add_l", "arm_rot_l", "elbow_flex_l", "pro_sup_l",
)  # fmt: skip


@dataclass(frozen=True)
class _Body:
    """Generic inertial properties: mass kg, centre of mass m (body frame), principal moments
    kg·m² about the centre of mass, and an ellipsoid (centre, radii, m) for display."""

    mass: float
    com: tuple[float, float, float]
    moments: tuple[float, float, float]
    shape_center: tuple[float, float, float]
    shape_radii: tuple[float, float, float]


def _mirror(v: tuple[float, float, float]) -> tuple[float, float, float]:
    return (v[0], v[1], -v[2])


# LaiUhlrich2022 values; the patella mass (0.0862 kg) is lumped into the tibia.
_BODIES: dict[str, _Body] = {
    "pelvis": _Body(11.777, (-0.0707, 0, 0), (0.1028, 0.0871, 0.0579), (-0.07, 0, 0), (0.09, 0.07, 0.15)),
    "femur_r": _Body(9.3014, (0, -0.17, 0), (0.1339, 0.0351, 0.1412), (0, -0.2, 0), (0.05, 0.21, 0.05)),
    "tibia_r": _Body(3.7937, (0, -0.1867, 0), (0.0504, 0.0051, 0.0511), (0, -0.2, 0), (0.04, 0.2, 0.04)),
    "talus_r": _Body(0.1, (0, 0, 0), (0.001, 0.001, 0.001), (0, 0, 0), (0.025, 0.025, 0.025)),
    "calcn_r": _Body(1.25, (0.1, 0.03, 0), (0.0014, 0.0039, 0.0041), (0.09, 0.02, 0.02), (0.11, 0.03, 0.045)),
    "toes_r": _Body(0.2166, (0.0346, 0.006, -0.0175), (0.0001, 0.0002, 0.001), (0.03, 0.005, -0.01), (0.03, 0.015, 0.045)),
    "torso": _Body(26.8266, (-0.03, 0.32, 0), (1.4745, 0.7555, 1.4314), (-0.03, 0.3, 0), (0.11, 0.3, 0.17)),
    "humerus_r": _Body(2.0325, (0, -0.164502, 0), (0.011946, 0.004121, 0.013409), (0, -0.15, 0), (0.035, 0.15, 0.035)),
    "ulna_r": _Body(0.6075, (0, -0.120525, 0), (0.002962, 0.000618, 0.003213), (0, -0.12, 0.01), (0.02, 0.12, 0.02)),
    "radius_r": _Body(0.6075, (0, -0.120525, 0), (0.002962, 0.000618, 0.003213), (0, -0.12, 0), (0.02, 0.12, 0.02)),
    "hand_r": _Body(0.4575, (0, -0.068095, 0), (0.000892, 0.000547, 0.00134), (0, -0.07, 0), (0.015, 0.08, 0.04)),
}  # fmt: skip
for _name in ("femur", "tibia", "talus", "calcn", "toes", "humerus", "ulna", "radius", "hand"):
    _b = _BODIES[f"{_name}_r"]
    _BODIES[f"{_name}_l"] = _Body(
        _b.mass, _mirror(_b.com), _b.moments, _mirror(_b.shape_center), _b.shape_radii
    )

#: Generic (unscaled) position of each joint centre and its range of motion; used by the
#: kinematics helpers and the docs.  Ranges are those of LaiUhlrich2022, in radians / metres.
_RANGES: dict[str, tuple[float, float, float]] = {
    # name: (min, max, default)
    "pelvis_tilt": (-_PI2, _PI2, 0.0),
    "pelvis_list": (-_PI2, _PI2, 0.0),
    "pelvis_rotation": (-2 * np.pi, 2 * np.pi, 0.0),
    "pelvis_tx": (-50.0, 50.0, 0.0),
    "pelvis_ty": (-1.0, 2.0, 0.93),
    "pelvis_tz": (-3.0, 3.0, 0.0),
    "hip_flexion": (-0.52359878, 2.0943951, 0.0),
    "hip_adduction": (-0.87266463, 0.52359878, 0.0),
    "hip_rotation": (-0.6981317, 0.6981317, 0.0),
    "knee_angle": (0.0, 2.44346095279206, 0.0),
    "ankle_angle": (-0.8726646259971648, 0.8726646259971648, 0.0),
    "subtalar_angle": (-0.610865238198015, 0.610865238198015, 0.0),
    "mtp_angle": (-0.7853981633974483, 0.52359878, 0.0),
    "lumbar_extension": (-_PI2, _PI2, 0.0),
    "lumbar_bending": (-_PI2, _PI2, 0.0),
    "lumbar_rotation": (-_PI2, _PI2, 0.0),
    "arm_flex": (-np.pi, np.pi, 0.0),
    "arm_add": (-np.pi, np.pi, 0.0),
    "arm_rot": (-np.pi, np.pi, 0.0),
    "elbow_flex": (0.0, 2.618, 0.0),
    "pro_sup": (0.0, 2.09, 0.0),
}


def _v(x) -> opensim.Vec3:
    return opensim.Vec3(float(x[0]), float(x[1]), float(x[2]))


def _configure(coord: opensim.Coordinate, length_scale: float) -> None:
    """Set range, default value and clamping of a coordinate from :data:`_RANGES`."""
    name = coord.getName()
    key = name if name in _RANGES else name[:-2]
    lo, hi, default = _RANGES[key]
    if coord.getMotionType() == opensim.Coordinate.Translational and name == "pelvis_ty":
        default *= length_scale
    coord.setRangeMin(lo)
    coord.setRangeMax(hi)
    coord.setDefaultValue(default)
    # Unclamped: OpenSim's IK treats clamped ranges as optimizer bounds and then converges
    # poorly (errors of ~0.5-3 deg on noise-free markers when a coordinate starts on its
    # bound); the ranges stay in the model as information.
    coord.set_clamped(False)


def _custom_joint(
    name: str,
    parent: opensim.PhysicalFrame,
    loc_parent,
    ori_parent,
    child: opensim.PhysicalFrame,
    loc_child,
    ori_child,
    rotations: list[tuple[str, tuple[float, float, float]]],
    translations: list[tuple[str, tuple[float, float, float]]] = (),
) -> opensim.CustomJoint:
    """A CustomJoint with up to three rotations (applied in order) and three translations.

    ``rotations`` / ``translations`` are ``(coordinate name, axis)`` pairs; axes without a
    coordinate are filled with the remaining unit axes and a zero constant function.
    """
    st = opensim.SpatialTransform()
    for first, spec in ((0, list(rotations)), (3, list(translations))):
        used = [np.abs(np.asarray(ax, float)) for _, ax in spec]
        # Unused axes must not be collinear with used ones (OpenSim rejects the joint).
        spare = [e for e in np.eye(3) if not any(np.allclose(e, u) for u in used)]
        for k in range(3):
            axis = st.updTransformAxis(first + k)
            if k < len(spec):
                cname, ax = spec[k]
                names = opensim.ArrayStr()
                names.append(cname)
                axis.setCoordinateNames(names)
                axis.setAxis(_v(ax))
                axis.set_function(opensim.LinearFunction(1.0, 0.0))
            else:
                axis.setAxis(_v(spare.pop(0)))
                axis.set_function(opensim.Constant(0.0))
    return opensim.CustomJoint(
        name, parent, _v(loc_parent), _v(ori_parent), child, _v(loc_child), _v(ori_child), st
    )


def _pin_joint(
    name: str,
    coordinate: str,
    parent: opensim.PhysicalFrame,
    loc_parent,
    ori,
    child: opensim.PhysicalFrame,
) -> opensim.PinJoint:
    """A PinJoint (rotation about the joint frame's z) whose parent and child frames share the
    orientation ``ori`` (body-fixed XYZ, rad), as all LaiUhlrich2022 pin joints do."""
    joint = opensim.PinJoint(name, parent, _v(loc_parent), _v(ori), child, _v((0, 0, 0)), _v(ori))
    joint.upd_coordinates(0).setName(coordinate)
    return joint


def build_compact_model(height_m: float = 1.75, mass_kg: float = 70.0) -> opensim.Model:
    """Build the compact full-body model, scaled uniformly to a subject.

    Args:
        height_m: subject height in metres; lengths scale by ``height_m / 1.70``.
        mass_kg: subject mass in kg; segment masses keep LaiUhlrich2022's distribution.

    Returns:
        An initialised ``opensim.Model`` (``initSystem`` has been called) named
        ``opencapbench_compact``, 22 bodies, 33 coordinates (:data:`COORDINATE_NAMES`), no
        markers (add them with :func:`opencapbench.osim.markers.add_markers`).

    Raises:
        ValueError: non-positive or implausible height / mass.
    """
    if not (0.5 <= height_m <= 2.5):
        raise ValueError(f"height_m must be a plausible body height in metres, got {height_m}")
    if not (5.0 <= mass_kg <= 300.0):
        raise ValueError(f"mass_kg must be a plausible body mass in kg, got {mass_kg}")
    s = height_m / GENERIC_HEIGHT_M
    m_scale = mass_kg / GENERIC_MASS_KG

    model = opensim.Model()
    model.setName(MODEL_NAME)
    model.setGravity(opensim.Vec3(0, -9.80665, 0))
    model.set_length_units("meters")
    model.set_force_units("N")

    bodies: dict[str, opensim.Body] = {}
    for name, b in _BODIES.items():
        mass = b.mass * m_scale
        inertia = opensim.Inertia(*(mom * m_scale * s * s for mom in b.moments))
        body = opensim.Body(name, mass, _v(np.multiply(b.com, s)), inertia)
        # The joint-centre sphere on the body itself carries the scale factors (like the
        # meshes of a ScaleTool-scaled model); the segment ellipsoid sits on an offset frame.
        sphere = opensim.Sphere(0.02)
        sphere.set_scale_factors(opensim.Vec3(s, s, s))
        body.attachGeometry(sphere)
        shape_frame = opensim.PhysicalOffsetFrame(
            f"{name}_shape", body, opensim.Transform(_v(np.multiply(b.shape_center, s)))
        )
        ellipsoid = opensim.Ellipsoid(*b.shape_radii)
        ellipsoid.set_scale_factors(opensim.Vec3(s, s, s))
        ellipsoid.setOpacity(0.6)
        shape_frame.attachGeometry(ellipsoid)
        body.addComponent(shape_frame)
        model.addBody(body)
        bodies[name] = body

    ground = model.getGround()
    joints: list[opensim.Joint] = []

    def sv(x):
        return np.multiply(x, s)

    joints.append(
        _custom_joint(
            "ground_pelvis", ground, (0, 0, 0), (0, 0, 0), bodies["pelvis"], (0, 0, 0), (0, 0, 0),
            [("pelvis_tilt", (0, 0, 1)), ("pelvis_list", (1, 0, 0)), ("pelvis_rotation", (0, 1, 0))],
            [("pelvis_tx", (1, 0, 0)), ("pelvis_ty", (0, 1, 0)), ("pelvis_tz", (0, 0, 1))],
        )
    )  # fmt: skip
    for side, z in (("r", 1.0), ("l", -1.0)):
        femur, tibia = bodies[f"femur_{side}"], bodies[f"tibia_{side}"]
        talus, calcn, toes = (
            bodies[f"talus_{side}"],
            bodies[f"calcn_{side}"],
            bodies[f"toes_{side}"],
        )
        # LaiUhlrich2022's left hip has axes +x/+y with slope -1: the same as mirrored axes.
        joints.append(
            _custom_joint(
                f"hip_{side}", bodies["pelvis"], sv((-0.056276, -0.07849, z * 0.07726)), (0, 0, 0),
                femur, (0, 0, 0), (0, 0, 0),
                [(f"hip_flexion_{side}", (0, 0, 1)), (f"hip_adduction_{side}", (z, 0, 0)),
                 (f"hip_rotation_{side}", (0, z, 0))],
            )
        )  # fmt: skip
        knee_ori = (-z * 1.64157, z * 1.44618, 1.5708)
        joints.append(
            _custom_joint(
                f"walker_knee_{side}", femur, sv((-0.0045, -0.4096, -z * 0.00175)), knee_ori,
                tibia, sv((-0.00808954, -0.0035348, -z * 0.00148474)), knee_ori,
                [(f"knee_angle_{side}", (z, 0, 0))],
            )
        )  # fmt: skip
        ankle_ori = (z * 0.175895, -z * 0.105208, 0.0186622)
        joints.append(
            _pin_joint(
                f"ankle_{side}", f"ankle_angle_{side}", tibia, sv((-0.01, -0.4, 0)), ankle_ori,
                talus,
            )
        )  # fmt: skip
        sub_ori = (-z * 1.76819, z * 0.906223, 1.8196)
        joints.append(
            _pin_joint(
                f"subtalar_{side}", f"subtalar_angle_{side}", talus,
                sv((-0.04877, -0.04195, z * 0.00792)), sub_ori, calcn,
            )
        )  # fmt: skip
        mtp_ori = (-3.14159, z * 0.619901, 0.0)
        joints.append(
            _pin_joint(
                f"mtp_{side}", f"mtp_angle_{side}", calcn, sv((0.1788, -0.002, z * 0.00108)),
                mtp_ori, toes,
            )
        )  # fmt: skip
    joints.append(
        _custom_joint(
            "back", bodies["pelvis"], sv((-0.1007, 0.0815, 0)), (0, 0, 0), bodies["torso"],
            (0, 0, 0), (0, 0, 0),
            [("lumbar_extension", (0, 0, 1)), ("lumbar_bending", (1, 0, 0)),
             ("lumbar_rotation", (0, 1, 0))],
        )
    )  # fmt: skip
    for side, z in (("r", 1.0), ("l", -1.0)):
        humerus, ulna = bodies[f"humerus_{side}"], bodies[f"ulna_{side}"]
        radius, hand = bodies[f"radius_{side}"], bodies[f"hand_{side}"]
        joints.append(
            _custom_joint(
                f"acromial_{side}", bodies["torso"], sv((0.003155, 0.3715, z * 0.17)), (0, 0, 0),
                humerus, (0, 0, 0), (0, 0, 0),
                [(f"arm_flex_{side}", (0, 0, 1)), (f"arm_add_{side}", (z, 0, 0)),
                 (f"arm_rot_{side}", (0, z, 0))],
            )
        )  # fmt: skip
        elbow_ori = (-z * 0.0228627, z * 0.228018, 0.0051689)
        joints.append(
            _pin_joint(
                f"elbow_{side}", f"elbow_flex_{side}", humerus,
                sv((0.013144, -0.286273, -z * 0.009595)), elbow_ori, ulna,
            )
        )  # fmt: skip
        ru_ori = (-z * 1.56884, z * 0.056428, 1.53614)
        joints.append(
            _pin_joint(
                f"radioulnar_{side}", f"pro_sup_{side}", ulna,
                sv((-0.006727, -0.013007, z * 0.026083)), ru_ori, radius,
            )
        )  # fmt: skip
        hand_ori = (-z * 1.5708, 0.0, -z * 1.5708)
        joints.append(
            opensim.WeldJoint(
                f"radius_hand_{side}", radius, _v(sv((-0.008797, -0.235841, z * 0.01361))),
                _v(hand_ori), hand, _v((0, 0, 0)), _v(hand_ori),
            )
        )  # fmt: skip

    for joint in joints:
        model.addJoint(joint)
        for i in range(joint.numCoordinates()):
            _configure(joint.upd_coordinates(i), s)
    model.finalizeConnections()
    model.initSystem()
    return model


def write_compact_model(
    path: str | os.PathLike, height_m: float = 1.75, mass_kg: float = 70.0, markers=None
) -> opensim.Model:
    """Build the compact model (optionally with markers) and save it atomically as ``.osim``.

    Args:
        path: output ``.osim`` path.
        height_m, mass_kg: subject size, see :func:`build_compact_model`.
        markers: optional marker specs for :func:`opencapbench.osim.markers.add_markers`
            (generic, unscaled locations; they are scaled like the bodies).

    Returns:
        The model that was written.
    """
    model = build_compact_model(height_m, mass_kg)
    if markers is not None:
        from opencapbench.osim.markers import add_markers, body_scale_factors

        add_markers(model, markers, scale=body_scale_factors(model))
    with atomic_path(path) as tmp:
        model.printToXML(str(tmp))
    return model


def scale_model_uniformly(
    model: opensim.Model, length_scale: float, mass_kg: float | None = None
) -> opensim.Model:
    """Scale every body of ``model`` (in place) by one length factor, like OpenSim's ScaleTool.

    Joint offsets, attached geometry (``scale_factors``), markers and muscle paths scale with
    the bodies; masses are set to ``mass_kg`` keeping their distribution (unchanged when None);
    the default ``pelvis_ty`` (standing pelvis height) scales too.

    Returns:
        The same model, re-initialised.
    """
    if not (0.3 <= length_scale <= 3.0):
        raise ValueError(f"length_scale must be a plausible factor, got {length_scale}")
    state = model.initSystem()
    scales = opensim.ScaleSet()
    bodies = model.getBodySet()
    for i in range(bodies.getSize()):
        scale = opensim.Scale()
        scale.setSegmentName(bodies.get(i).getName())
        scale.setScaleFactors(opensim.Vec3(length_scale, length_scale, length_scale))
        scale.setApply(True)
        scales.cloneAndAppend(scale)
    if not model.scale(state, scales, True, -1.0 if mass_kg is None else float(mass_kg)):
        raise RuntimeError(f"OpenSim could not scale model {model.getName()!r}")
    coords = model.updCoordinateSet()
    if coords.contains("pelvis_ty"):
        ty = coords.get("pelvis_ty")
        ty.setDefaultValue(ty.getDefaultValue() * length_scale)
    model.initSystem()
    return model


def write_subject_model(
    path: str | os.PathLike,
    height_m: float,
    mass_kg: float,
    generic_model: str | os.PathLike | None = None,
    length_scale: float | None = None,
) -> Path:
    """Write a subject model carrying the SynthPose markers (atomic).

    Args:
        path: output ``.osim``.
        height_m, mass_kg: the subject's size.
        generic_model: a Rajagopal/Lai-family ``.osim`` (e.g. LaiUhlrich2022) to scale; None
            for the built-in compact model.
        length_scale: uniform length factor relative to the generic model; default
            ``height_m / GENERIC_HEIGHT_M``.

    Returns:
        ``path``.
    """
    from opencapbench.osim.logs import load_model
    from opencapbench.osim.markers import attach_synthpose_markers

    path = Path(path)
    scale = height_m / GENERIC_HEIGHT_M if length_scale is None else float(length_scale)
    if generic_model is None:
        size = height_m if length_scale is None else GENERIC_HEIGHT_M * scale
        write_compact_model(path, height_m=size, mass_kg=mass_kg)
    else:
        model = load_model(generic_model)
        scale_model_uniformly(model, scale, mass_kg)
        with atomic_path(path) as tmp:
            model.printToXML(str(tmp))
    attach_synthpose_markers(path, path)
    return path
