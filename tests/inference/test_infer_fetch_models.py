"""`ocb fetch-models`: offline with an empty cache says exactly what to download."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    env.pop("HF_HUB_CACHE", None)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-m", "opencapbench.cli", "fetch-models", *args],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_offline_empty_cache_names_repo_files_and_command(tmp_path: Path) -> None:
    result = _run(tmp_path, "synthpose-hrnet48", "--no-detector")
    assert result.returncode == 1
    assert "stanfordmimi/synthpose-hrnet-48-mmpose" in result.stderr
    assert (
        "hrnet-w48_dark.pth" in result.stderr
        and "ocb fetch-models synthpose-hrnet48" in result.stderr
    )
    assert "hf download stanfordmimi/synthpose-hrnet-48-mmpose hrnet-w48_dark.pth`" in result.stderr
    assert str(tmp_path / "hf") in result.stderr


def test_unknown_model_is_a_usage_error(tmp_path: Path) -> None:
    result = _run(tmp_path, "no-such-model")
    assert result.returncode == 2 and "no-such-model" in result.stderr
