"""Every model family of the OpenCapBench table end to end on synthetic data: keypoints of
each set generated from the model's own markers, triangulated through the set's marker
recipe, IK with its marker set and weights; OpenCap's augmenter as a stage; early refusal."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import opensim
import pytest

from opencapbench.benchmark.config import (
    AugmenterSettings,
    BenchmarkConfig,
    ConfigError,
    MarkerSettings,
    PoseSettings,
)
from opencapbench.benchmark.families import check_run, run_keypoint_set
from opencapbench.benchmark.metrics import OCB_DOFS
from opencapbench.benchmark.runner import run_benchmark
from opencapbench.benchmark.synthetic_sets import write_synthetic_keypoint_set
from opencapbench.io.keypoint_store import Keypoints2D
from opencapbench.io.opencap_layout import list_subjects
from opencapbench.keypoints import get_keypoint_set
from opencapbench.osim.markers import MarkerSetError, check_recipe, place_marker_set
from opencapbench.recipes import RecipeError, load_marker_set
from opencapbench.synthetic import generate_synthetic_dataset

FAMILIES = ("halpe26", "coco_wholebody", "markers35")


def _run(root: Path, store: Path, out: Path, noise: bool, **kw):
    cfg = BenchmarkConfig(
        data_dir=root, out_dir=out, keypoint_store=store, workers=1, plots=False,
        markers=MarkerSettings(filter_hz=12.0 if noise else 0.0), **kw,
    )  # fmt: skip
    return run_benchmark(cfg)


def _rmse(outcome) -> dict[str, float]:
    assert outcome.failures.empty, outcome.failures.to_string()
    overall = outcome.tables["overall"]
    rmse = overall["rmse"] if "rmse" in overall else overall.loc["rmse"]
    return {dof: float(rmse[dof]) for dof in OCB_DOFS}


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("families_clean")
    generate_synthetic_dataset(root, n_cameras=4, duration_s=1.0, seed=1, progress=False)
    for name in FAMILIES:
        write_synthetic_keypoint_set(root, name, seed=11)
    return root


@pytest.fixture(scope="module")
def noisy(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("families_noisy")
    generate_synthetic_dataset(
        root, n_cameras=4, duration_s=1.0, noise_px=2.0, dropout=0.05, seed=2, progress=False
    )
    for name in FAMILIES:
        write_synthetic_keypoint_set(root, name, noise_px=2.0, dropout=0.05, seed=12)
    return root


def test_synthetic_sets_project_the_models_points(clean) -> None:
    trial = clean / "keypoints" / "subject1" / "Session0" / "walking1"
    sp = Keypoints2D.load(trial / "Cam1.npz")
    halpe = Keypoints2D.load(clean / "keypoints_halpe26" / "subject1/Session0/walking1/Cam1.npz")
    wb = Keypoints2D.load(
        clean / "keypoints_coco_wholebody" / "subject1/Session0/walking1/Cam1.npz"
    )
    m35 = Keypoints2D.load(clean / "keypoints_markers35" / "subject1/Session0/walking1/Cam1.npz")
    assert halpe.keypoint_set == "halpe26" and wb.keypoint_set == "coco_wholebody"
    spk, hk = get_keypoint_set("synthpose52"), get_keypoint_set("halpe26")
    # the face points are the same body-fixed points as SynthPose's: identical pixels
    for n in ("nose", "left_eye", "right_ear"):
        np.testing.assert_allclose(halpe.keypoints[:, 0, hk.index(n)],
                                   sp.keypoints[:, 0, spk.index(n)], atol=1e-3)  # fmt: skip
    # the OpenPose-style knee and ankle markers sit within ~2.5 cm of the joint centres that
    # SynthPose's COCO points use: under 8 px at 3.5 m (f = 913 px); a wrong body or
    # side would be ≥ 10 cm away
    for n in ("right_knee", "left_ankle"):
        d = np.linalg.norm(
            halpe.keypoints[:, 0, hk.index(n)] - sp.keypoints[:, 0, spk.index(n)], axis=-1
        )
        assert np.nanmax(d) < 8.0, (n, np.nanmax(d))
    # COCO-WholeBody's body part is HALPE's; markers35 are SynthPose's 35 marker keypoints
    np.testing.assert_allclose(wb.keypoints[:, 0, :17], halpe.keypoints[:, 0, :17], atol=1e-3)
    np.testing.assert_allclose(m35.keypoints[:, 0], sp.keypoints[:, 0, 17:], atol=1e-3)


@pytest.mark.slow
@pytest.mark.parametrize("name", FAMILIES)
def test_family_noise_free_under_two_degrees(clean, tmp_path, name) -> None:
    outcome = _run(clean, clean / f"keypoints_{name}", tmp_path / "out", noise=False)
    rmse = _rmse(outcome)
    assert max(rmse.values()) < 2.0, rmse
    ledger = (tmp_path / "out" / "status" / "_subjects" / "subject1.json").read_text()
    assert f'"keypoint_set": "{name}"' in ledger


@pytest.mark.slow
@pytest.mark.parametrize("name", FAMILIES)
def test_family_noisy_under_four_degrees(noisy, tmp_path, name) -> None:
    outcome = _run(noisy, noisy / f"keypoints_{name}", tmp_path / "out", noise=True)
    rmse = _rmse(outcome)
    assert max(rmse.values()) < 4.0, rmse


@pytest.mark.slow
@pytest.mark.shared
def test_augmenter_stage_gives_every_dof(clean, tmp_path, shared_dir) -> None:
    aug = AugmenterSettings("v0.3", str(shared_dir / "reference" / "opencap-augmenter"))
    out = tmp_path / "out"
    outcome = _run(clean, clean / "keypoints_halpe26", out, noise=False, augmenter=aug)
    rmse = _rmse(outcome)
    assert all(np.isfinite(v) for v in rmse.values()), rmse
    # IK ran on the augmented markers: the TRC has the 20 inputs then the 43 *_study markers
    trc = out / "trc" / "subject1" / "walking1_augmented_v0.3.trc"
    header = trc.read_text().splitlines()[3].split("\t")
    assert "Neck" in header and "r_calc_study" in header and "RHJC_study" in header
    model = opensim.Model(str(out / "models" / "subject1.osim"))
    assert model.getMarkerSet().contains("r_calc_study")
    assert not model.getMarkerSet().contains("RHeel")


def test_early_refusal_and_placement(clean, tmp_path) -> None:
    subjects = list_subjects(clean)
    cfg = BenchmarkConfig(
        data_dir=clean, out_dir=tmp_path, keypoint_store=clean / "keypoints_halpe26"
    )
    assert run_keypoint_set(cfg) == "halpe26"  # read from the store
    assert check_run(cfg, subjects).keypoint_set == "halpe26"
    # an empty store: the set the registered pose model outputs, SynthPose's otherwise
    empty = tmp_path / "empty_store"
    for model, expected in [("rtmw-x-wholebody", "coco_wholebody"),
                            ("rtmpose-m-halpe26", "halpe26"),
                            ("synthpose-vitpose-base", "synthpose52"),
                            ("my_config.py", "synthpose52"), (None, "synthpose52")]:  # fmt: skip
        cfg = BenchmarkConfig(data_dir=clean, out_dir=tmp_path, keypoint_store=empty,
                              pose=PoseSettings(model=model))  # fmt: skip
        assert run_keypoint_set(cfg) == expected, model
    # an explicit set is refused when the configuration is made (one line from `ocb`)
    with pytest.raises(ConfigError, match="no marker recipe; sets with one: body25, coco17"):
        BenchmarkConfig(data_dir=clean, out_dir=tmp_path, keypoint_set="mpii16")
    with pytest.raises(ConfigError, match="cannot feed OpenCap's marker augmenter"):
        BenchmarkConfig(data_dir=clean, out_dir=tmp_path, keypoint_set="coco17",
                        augmenter=AugmenterSettings("v0.3"))  # fmt: skip
    # a set read from the store is refused by the check the model stage makes first
    coco17 = write_synthetic_keypoint_set(clean, "coco17", store=tmp_path / "coco17")
    cfg = BenchmarkConfig(data_dir=clean, out_dir=tmp_path, keypoint_store=coco17,
                          augmenter=AugmenterSettings("v0.3"))  # fmt: skip
    with pytest.raises(RecipeError, match="'coco17' cannot feed .* RHeel"):
        check_run(cfg, subjects)
    # a model without the leg bodies: refused, naming the markers and bodies
    tiny = opensim.Model()
    tiny.setName("tiny")
    tiny.addBody(opensim.Body("pelvis", 10.0, opensim.Vec3(0), opensim.Inertia(1)))
    tiny.printToXML(str(tmp_path / "tiny.osim"))
    with pytest.raises(MarkerSetError, match="tiny.osim: .*RKnee \\(body tibia_r\\)"):
        check_recipe("halpe26", tmp_path / "tiny.osim")
    # the placed OpenPose-style markers: the package set's bodies, locations × body scale
    out = tmp_path / "placed.osim"
    report = place_marker_set(subjects[0].mocap_model, out, "coco_wholebody")
    generic = load_marker_set("openpose_markers.yaml").markers
    assert report.by_method("scaled") == list(generic)
    model = opensim.Model(str(out))
    ms = model.getMarkerSet()
    for name, spec in generic.items():
        assert ms.get(name).getParentFrame().getName() == spec.body
    # SynthPose's own markers are untouched (names differ only in case: rshoulder/RShoulder)
    assert ms.contains("rshoulder") and ms.contains("RShoulder")
    assert not np.allclose(ms.get("rshoulder").get_location().to_numpy(),
                           ms.get("RShoulder").get_location().to_numpy())  # fmt: skip


@pytest.mark.shared
def test_openpose_markers_on_laiuhlrich2022(shared_dir, tmp_path) -> None:
    """On the unscaled generic model the placed set equals OpenCapBench's marker file."""
    import xml.etree.ElementTree as ET

    ref_dir = shared_dir / "reference" / "opensim"
    out = tmp_path / "lai.osim"
    place_marker_set(ref_dir / "LaiUhlrich2022.osim", out, "halpe26")
    model = opensim.Model(str(out))  # keep a reference: the marker set belongs to it
    ms = model.getMarkerSet()
    ref = ET.parse(ref_dir / "RajagopalModified2016_markers_openpose.xml").getroot()
    n = 0
    for m in ref.iter("Marker"):
        placed = ms.get(m.get("name"))
        assert (
            placed.getParentFrame().getName() == m.find("socket_parent_frame").text.split("/")[-1]
        )
        np.testing.assert_allclose(placed.get_location().to_numpy(),
                                   [float(x) for x in m.find("location").text.split()], atol=1e-9)  # fmt: skip
        n += 1
    assert n == 20
