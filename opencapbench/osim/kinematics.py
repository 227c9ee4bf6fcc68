"""Forward kinematics of an OpenSim model: coordinate trajectories → point trajectories.

Coordinate values follow the ``.mot`` convention: rotational coordinates in **degrees**,
translational ones in **metres**.  Points are returned in OpenSim's ground frame (Y up),
metres.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import opensim

from opencapbench.keypoints import get_keypoint_set

__all__ = [
    "DERIVED_KEYPOINTS",
    "coordinate_names",
    "marker_trajectories",
    "point_trajectories",
    "standing_leg_dimensions",
    "station_trajectories",
    "synthpose52_trajectories",
]

#: Keypoints of the ``synthpose52`` set that are not model markers (the COCO-17 joints and the
#: big toes), as (body, location in the body frame of the generic unscaled LaiUhlrich2022 /
#: built-in model, metres).  Joints are the child body origins (hip = femur, knee = tibia,
#: ankle = talus, shoulder = humerus, elbow = ulna, wrist = hand); the head points are fixed
#: to the torso (the model has no neck) at anthropometric positions for a 1.70 m adult; the big
#: toe tip is 6 cm distal and 2 cm medial of the metatarsophalangeal joint.
DERIVED_KEYPOINTS: dict[str, tuple[str, tuple[float, float, float]]] = {
    "nose": ("torso", (0.11, 0.535, 0.0)),
    "left_eye": ("torso", (0.09, 0.57, -0.032)),
    "right_eye": ("torso", (0.09, 0.57, 0.032)),
    "left_ear": ("torso", (0.0, 0.55, -0.075)),
    "right_ear": ("torso", (0.0, 0.55, 0.075)),
    "left_shoulder": ("humerus_l", (0.0, 0.0, 0.0)),
    "right_shoulder": ("humerus_r", (0.0, 0.0, 0.0)),
    "left_elbow": ("ulna_l", (0.0, 0.0, 0.0)),
    "right_elbow": ("ulna_r", (0.0, 0.0, 0.0)),
    "left_wrist": ("hand_l", (0.0, 0.0, 0.0)),
    "right_wrist": ("hand_r", (0.0, 0.0, 0.0)),
    "left_hip": ("femur_l", (0.0, 0.0, 0.0)),
    "right_hip": ("femur_r", (0.0, 0.0, 0.0)),
    "left_knee": ("tibia_l", (0.0, 0.0, 0.0)),
    "right_knee": ("tibia_r", (0.0, 0.0, 0.0)),
    "left_ankle": ("talus_l", (0.0, 0.0, 0.0)),
    "right_ankle": ("talus_r", (0.0, 0.0, 0.0)),
    "r_big_toe": ("toes_r", (0.06, 0.0, -0.02)),
    "l_big_toe": ("toes_l", (0.06, 0.0, 0.02)),
}


def coordinate_names(model: opensim.Model) -> list[str]:
    """The model's coordinate names, in model order."""
    cs = model.getCoordinateSet()
    return [cs.get(i).getName() for i in range(cs.getSize())]


def _coordinate_matrix(
    model: opensim.Model, coordinate_values: Mapping[str, np.ndarray]
) -> tuple[list[opensim.Coordinate], np.ndarray]:
    """Coordinates named in ``coordinate_values`` and their values in model units, (T, C)."""
    cs = model.getCoordinateSet()
    coords, columns, length = [], [], None
    for name, values in coordinate_values.items():
        if not cs.contains(name):
            raise KeyError(f"model {model.getName()!r} has no coordinate {name!r}")
        v = np.asarray(values, dtype=np.float64).ravel()
        if length is None:
            length = v.size
        elif v.size != length:
            raise ValueError(f"coordinate {name!r} has {v.size} frames, expected {length}")
        c = cs.get(name)
        if c.getMotionType() == opensim.Coordinate.Rotational:
            v = np.deg2rad(v)
        coords.append(c)
        columns.append(v)
    if not coords:
        raise ValueError("coordinate_values is empty")
    return coords, np.stack(columns, axis=1)


def _couplers(
    model: opensim.Model, state: opensim.State
) -> list[tuple[opensim.Coordinate, list, opensim.Function]]:
    """Coordinate couplers (e.g. LaiUhlrich2022's ``knee_angle_r_beta``): dependent coordinate,
    independent coordinates, function."""
    out = []
    cs = model.getCoordinateSet()
    constraints = model.getConstraintSet()
    for i in range(constraints.getSize()):
        cc = opensim.CoordinateCouplerConstraint.safeDownCast(constraints.get(i))
        if cc is None or not cc.isEnforced(state):
            continue
        names = cc.getIndependentCoordinateNames()
        indep = [cs.get(names.get(k)) for k in range(names.getSize())]
        out.append((cs.get(cc.getDependentCoordinateName()), indep, cc.getFunction()))
    return out


def point_trajectories(
    model: opensim.Model,
    coordinate_values: Mapping[str, np.ndarray],
    marker_names: Sequence[str] = (),
    stations: Sequence[tuple[str, Sequence[float]]] = (),
) -> np.ndarray:
    """Ground positions of markers and body-fixed stations over time.

    Args:
        model: the model (``initSystem`` is called here).
        coordinate_values: coordinate name → (T,) values, degrees or metres.  Coordinates not
            given keep their default values; coupled coordinates follow their couplers.
        marker_names: M markers of the model.
        stations: S ``(body name, (3,) location in the body frame, metres)``.

    Returns:
        (T, M + S, 3) positions in ground, metres; markers first, then stations.
    """
    coords, q = _coordinate_matrix(model, coordinate_values)
    state = model.initSystem()
    couplers = _couplers(model, state)
    mset, bodies = model.getMarkerSet(), model.getBodySet()
    markers = []
    for n in marker_names:
        if not mset.contains(n):
            raise KeyError(f"model {model.getName()!r} has no marker {n!r}")
        markers.append(mset.get(n))
    frames = []
    for body, loc in stations:
        if not bodies.contains(body):
            raise KeyError(f"model {model.getName()!r} has no body {body!r}")
        frames.append((bodies.get(body), opensim.Vec3(*(float(x) for x in loc))))
    out = np.empty((q.shape[0], len(markers) + len(frames), 3))
    for t in range(q.shape[0]):
        for c, v in zip(coords, q[t], strict=True):
            c.setValue(state, float(v), False)
        for dep, indep, fn in couplers:
            x = opensim.Vector(len(indep), 0.0)
            for k, c in enumerate(indep):
                x.set(k, c.getValue(state))
            dep.setValue(state, fn.calcValue(x), False)
        model.realizePosition(state)
        for j, m in enumerate(markers):
            out[t, j] = m.getLocationInGround(state).to_numpy()
        for j, (body, loc) in enumerate(frames, start=len(markers)):
            out[t, j] = body.findStationLocationInGround(state, loc).to_numpy()
    return out


def marker_trajectories(
    model: opensim.Model, coordinate_values: Mapping[str, np.ndarray], marker_names: Sequence[str]
) -> np.ndarray:
    """(T, M, 3) ground positions (metres) of model markers; see :func:`point_trajectories`."""
    return point_trajectories(model, coordinate_values, marker_names=marker_names)


def station_trajectories(
    model: opensim.Model,
    coordinate_values: Mapping[str, np.ndarray],
    stations: Sequence[tuple[str, Sequence[float]]],
) -> np.ndarray:
    """(T, S, 3) ground positions (metres) of body-fixed points; see :func:`point_trajectories`."""
    return point_trajectories(model, coordinate_values, stations=stations)


def synthpose52_trajectories(
    model: opensim.Model, coordinate_values: Mapping[str, np.ndarray]
) -> np.ndarray:
    """All 52 ``synthpose52`` keypoints in ground, in keypoint-set order, (T, 52, 3) metres.

    The 33 anatomical markers are the model's own markers (so IK on them is exact); the COCO-17
    joints and big toes come from :data:`DERIVED_KEYPOINTS`, scaled by the body scale factors.

    Raises:
        KeyError: the model lacks one of the SynthPose markers (attach them first with
            :func:`opencapbench.osim.markers.attach_synthpose_markers`).
    """
    from opencapbench.osim.markers import body_scale_factors

    names = get_keypoint_set("synthpose52").names
    derived = [n for n in names if n in DERIVED_KEYPOINTS]
    markers = [n for n in names if n not in DERIVED_KEYPOINTS]
    factors = body_scale_factors(model)
    stations = []
    for n in derived:
        body, loc = DERIVED_KEYPOINTS[n]
        stations.append((body, np.asarray(loc) * factors.get(body, np.ones(3))))
    pts = point_trajectories(model, coordinate_values, markers, stations)
    order = {n: i for i, n in enumerate(markers + derived)}
    return pts[:, [order[n] for n in names]]


def standing_leg_dimensions(model: opensim.Model) -> dict[str, float | tuple[float, float]]:
    """Standing (default pose) dimensions of a Rajagopal/Lai-family model's right leg.

    Returns:
        ``pelvis_height`` (default ``pelvis_ty``), ``thigh`` (vertical hip → knee centre),
        ``shank`` (vertical knee → ankle centre) and ``hip_offset`` ((x, y) of the hip centre
        in the pelvis frame), all in metres.
    """
    ty = model.getCoordinateSet().get("pelvis_ty").getDefaultValue()
    stations = [(b, (0.0, 0.0, 0.0)) for b in ("pelvis", "femur_r", "tibia_r", "talus_r")]
    pelvis, hip, knee, ankle = station_trajectories(model, {"pelvis_ty": np.array([ty])}, stations)[
        0
    ]
    return {
        "pelvis_height": float(ty),
        "thigh": float(hip[1] - knee[1]),
        "shank": float(knee[1] - ankle[1]),
        "hip_offset": (float(hip[0] - pelvis[0]), float(hip[1] - pelvis[1])),
    }
