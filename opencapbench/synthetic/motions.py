"""Joint-angle time series of the synthetic trials: pure functions of time and body size.

Coordinates follow the OpenSim conventions of LaiUhlrich2022 (X forward, Y up, Z right;
positive hip/knee flexion, ankle dorsiflexion, lumbar extension; positive ``pelvis_tilt`` is a
posterior tilt).  Angles are in degrees, translations in metres.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = [
    "MOTIONS",
    "TRIAL_MOTIONS",
    "Anthropometry",
    "motion_for_trial",
    "sit_to_stand",
    "squat",
    "static",
    "walking",
]


@dataclass(frozen=True)
class Anthropometry:
    """Model dimensions the motions need to keep the feet planted (metres).

    Attributes:
        pelvis_height: standing ``pelvis_ty`` (the model's default).
        thigh: vertical hip-centre → knee-centre distance, standing.
        shank: vertical knee-centre → ankle-centre distance, standing.
        hip_offset: (x, y) of the hip centre in the pelvis frame.
    """

    pelvis_height: float = 0.93
    thigh: float = 0.41
    shank: float = 0.40
    hip_offset: tuple[float, float] = (-0.056276, -0.07849)


def _bump(phase: np.ndarray, center: float, kappa: float) -> np.ndarray:
    """Smooth periodic bump in [0, 1] peaking at ``center`` (von Mises shape)."""
    return np.exp(kappa * (np.cos(2 * np.pi * (phase - center)) - 1.0))


def _smootherstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * x * (x * (6 * x - 15) + 10)


def _planted_pelvis(
    body: Anthropometry, tilt_deg: np.ndarray, hip_deg: np.ndarray, knee_deg: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Pelvis (tx, ty) that keeps the ankle centre where it is when standing, for a sagittal
    leg chain; the ankle angle that keeps the foot flat is ``knee - tilt - hip``."""
    p = np.deg2rad(tilt_deg)
    th = p + np.deg2rad(hip_deg)  # thigh angle from vertical (distal end forward > 0)
    ts = th - np.deg2rad(knee_deg)  # shank angle
    ox, oy = body.hip_offset
    ankle_x = ox
    ankle_y = body.pelvis_height + oy - body.thigh - body.shank
    knee_x = ankle_x - body.shank * np.sin(ts)
    knee_y = ankle_y + body.shank * np.cos(ts)
    hip_x = knee_x - body.thigh * np.sin(th)
    hip_y = knee_y + body.thigh * np.cos(th)
    tx = hip_x - (ox * np.cos(p) - oy * np.sin(p))
    ty = hip_y - (ox * np.sin(p) + oy * np.cos(p))
    return tx, ty


def walking(t: np.ndarray, body: Anthropometry = Anthropometry()) -> dict[str, np.ndarray]:
    """Gait-like motion at 1.2 m/s along +X, stride 1.11 s (cadence 108 steps/min).

    Args:
        t: (T,) seconds.
        body: model dimensions (only ``pelvis_height`` is used).

    Returns:
        coordinate name → (T,) values (degrees; metres for ``pelvis_t*``).
    """
    t = np.asarray(t, dtype=np.float64)
    ph = t * 0.9
    w = 2 * np.pi
    out: dict[str, np.ndarray] = {
        "pelvis_tilt": -3.0 + 1.5 * np.cos(2 * w * ph),
        "pelvis_list": 4.0 * np.sin(w * ph),
        "pelvis_rotation": 5.0 * np.sin(w * ph + 0.4),
        "pelvis_tx": -1.0 + 1.2 * t,
        "pelvis_ty": body.pelvis_height - 0.02 + 0.015 * np.cos(2 * w * ph),
        "pelvis_tz": 0.02 * np.sin(w * ph),
    }
    for side, shift in (("r", 0.0), ("l", 0.5)):
        q = ph + shift
        out[f"hip_flexion_{side}"] = 10.0 + 20.0 * np.cos(w * (q + 0.1))
        out[f"hip_adduction_{side}"] = 4.0 * np.sin(w * q + 0.3)
        out[f"hip_rotation_{side}"] = 5.0 * np.sin(w * q - 0.5)
        out[f"knee_angle_{side}"] = 5.0 + 12.0 * _bump(q, 0.12, 12.0) + 55.0 * _bump(q, 0.72, 8.0)
        out[f"ankle_angle_{side}"] = 3.0 + 7.0 * np.sin(w * q - 0.6) - 15.0 * _bump(q, 0.62, 20.0)
        out[f"subtalar_angle_{side}"] = 5.0 * np.sin(w * q + 1.0)
        out[f"mtp_angle_{side}"] = np.zeros_like(t)
        out[f"arm_flex_{side}"] = -14.0 * np.cos(w * (q + 0.1))
        out[f"arm_add_{side}"] = -8.0 + 2.0 * np.sin(w * q)
        out[f"arm_rot_{side}"] = 5.0 * np.sin(w * q + 0.8)
        out[f"elbow_flex_{side}"] = 30.0 + 10.0 * (1.0 - np.cos(w * (q + 0.1)))
        out[f"pro_sup_{side}"] = 80.0 + 5.0 * np.sin(w * q)
    out["lumbar_extension"] = 3.0 + 2.0 * np.cos(2 * w * ph)
    out["lumbar_bending"] = -3.0 * np.sin(w * ph)
    out["lumbar_rotation"] = -4.0 * np.sin(w * ph + 0.4)
    return out


def squat(t: np.ndarray, body: Anthropometry = Anthropometry()) -> dict[str, np.ndarray]:
    """Bodyweight squats, 2 s per repetition (standing at t = 0, deepest at t = 1 s), feet flat
    and planted: the pelvis translation and ankle angle follow from the leg chain."""
    t = np.asarray(t, dtype=np.float64)
    s = 0.5 * (1.0 - np.cos(2 * np.pi * t / 2.0))
    sway = np.sin(2 * np.pi * t / 2.0)
    tilt = -3.0 - 17.0 * s
    hip = 5.0 + 80.0 * s
    knee = 5.0 + 95.0 * s
    tx, ty = _planted_pelvis(body, tilt, hip, knee)
    out: dict[str, np.ndarray] = {
        "pelvis_tilt": tilt,
        "pelvis_list": 1.5 * sway,
        "pelvis_rotation": 2.0 * sway,
        "pelvis_tx": tx,
        "pelvis_ty": ty,
        "pelvis_tz": 0.01 * sway,
        "lumbar_extension": -10.0 * s,
        "lumbar_bending": -1.5 * sway,
        "lumbar_rotation": -2.0 * sway,
    }
    for side, sign in (("r", 1.0), ("l", -1.0)):
        out[f"hip_flexion_{side}"] = hip
        out[f"hip_adduction_{side}"] = -2.0 - 6.0 * s + sign * 1.0 * sway
        out[f"hip_rotation_{side}"] = 3.0 + 6.0 * s + sign * 1.0 * sway
        out[f"knee_angle_{side}"] = knee
        out[f"ankle_angle_{side}"] = knee - tilt - hip
        out[f"subtalar_angle_{side}"] = 2.0 + 4.0 * s
        out[f"mtp_angle_{side}"] = np.zeros_like(t)
        out[f"arm_flex_{side}"] = 10.0 + 70.0 * s
        out[f"arm_add_{side}"] = -6.0 + 2.0 * s
        out[f"arm_rot_{side}"] = 5.0 + 10.0 * s
        out[f"elbow_flex_{side}"] = 15.0 + 25.0 * s
        out[f"pro_sup_{side}"] = 75.0 + 10.0 * s
    return out


def sit_to_stand(t: np.ndarray, body: Anthropometry = Anthropometry()) -> dict[str, np.ndarray]:
    """Sit-to-stand: seated until 0.2 s, rises over 1.2 s with a forward trunk lean, then
    stands; feet flat and planted."""
    t = np.asarray(t, dtype=np.float64)
    r = _smootherstep((t - 0.2) / 1.2)
    lean = np.sin(np.pi * r) ** 2
    tilt = -2.0 - 12.0 * lean
    hip = 5.0 + 85.0 * (1.0 - r) + 25.0 * lean
    knee = 5.0 + 90.0 * (1.0 - r * r)
    tx, ty = _planted_pelvis(body, tilt, hip, knee)
    out: dict[str, np.ndarray] = {
        "pelvis_tilt": tilt,
        "pelvis_list": 1.0 * lean,
        "pelvis_rotation": -2.0 * lean,
        "pelvis_tx": tx,
        "pelvis_ty": ty,
        "pelvis_tz": 0.01 * lean,
        "lumbar_extension": -5.0 - 15.0 * lean,
        "lumbar_bending": 1.0 * lean,
        "lumbar_rotation": 2.0 * lean,
    }
    for side, sign in (("r", 1.0), ("l", -1.0)):
        out[f"hip_flexion_{side}"] = hip
        out[f"hip_adduction_{side}"] = -3.0 + sign * 1.5 * lean
        out[f"hip_rotation_{side}"] = 4.0 - 3.0 * r
        out[f"knee_angle_{side}"] = knee
        out[f"ankle_angle_{side}"] = knee - tilt - hip
        out[f"subtalar_angle_{side}"] = 3.0 - 2.0 * lean
        out[f"mtp_angle_{side}"] = np.zeros_like(t)
        out[f"arm_flex_{side}"] = 5.0 + 25.0 * lean
        out[f"arm_add_{side}"] = -8.0 + 3.0 * lean
        out[f"arm_rot_{side}"] = 10.0 - 5.0 * r
        out[f"elbow_flex_{side}"] = 35.0 - 10.0 * r
        out[f"pro_sup_{side}"] = 85.0 - 5.0 * r
    return out


def static(t: np.ndarray, body: Anthropometry = Anthropometry()) -> dict[str, np.ndarray]:
    """Standing still (OpenCap's ``static1`` trial, used for scaling) in the neutral pose that
    OpenCap's marker placer assumes: every joint angle 0 (the model's default pose, arms
    hanging) except 5° of ankle dorsiflexion, pelvis at its standing height."""
    t = np.asarray(t, dtype=np.float64)
    names = ["pelvis_tilt", "pelvis_list", "pelvis_rotation", "pelvis_tx", "pelvis_tz"]
    names += ["lumbar_extension", "lumbar_bending", "lumbar_rotation"]
    for side in ("r", "l"):
        names += [
            f"{n}_{side}"
            for n in ("hip_flexion", "hip_adduction", "hip_rotation", "knee_angle", "ankle_angle",
                      "subtalar_angle", "mtp_angle", "arm_flex", "arm_add", "arm_rot",
                      "elbow_flex", "pro_sup")
        ]  # fmt: skip
    out = {n: np.zeros_like(t) for n in names}
    out["pelvis_ty"] = np.full_like(t, body.pelvis_height)
    out["ankle_angle_r"] = out["ankle_angle_l"] = np.full_like(t, 5.0)
    return out


Motion = Callable[..., dict[str, np.ndarray]]

#: Motion name → pure function ``(t seconds (T,), Anthropometry) -> {coordinate: (T,)}``.
MOTIONS: dict[str, Motion] = {
    "walking": walking,
    "squat": squat,
    "sit-to-stand": sit_to_stand,
    "static": static,
}

#: Trial-name prefix → motion (OpenCap LabValidation trial names).
TRIAL_MOTIONS: dict[str, str] = {
    "walking": "walking",
    "squats": "squat",
    "STS": "sit-to-stand",
    "static": "static",
}


def motion_for_trial(trial: str) -> Motion:
    """The motion function of a trial name (``walking1`` → walking, ``squats1`` → squat,
    ``STS1`` → sit-to-stand, ``static1`` → static); raises ``ValueError`` for unknown names."""
    for prefix, motion in TRIAL_MOTIONS.items():
        if trial.startswith(prefix):
            return MOTIONS[motion]
    raise ValueError(
        f"no synthetic motion for trial {trial!r}; trial names must start with one of "
        f"{sorted(TRIAL_MOTIONS)}"
    )
