"""scripts/fetch_models.py: offline with an empty cache says exactly what to download."""

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "fetch_models.py"


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    env["PYTHONPATH"] = os.pathsep.join([str(SCRIPT.parents[1]), env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_offline_empty_cache_names_repo_files_and_command(tmp_path: Path) -> None:
    result = _run(tmp_path, "synthpose-hrnet48", "--no-detector")
    assert result.returncode == 1
    assert "stanfordmimi/synthpose-hrnet-48-mmpose" in result.stderr
    assert "hrnet-w48_dark.pth" in result.stderr and "hf download" in result.stderr
    assert str(tmp_path / "hf") in result.stderr


def test_unknown_model_is_a_usage_error(tmp_path: Path) -> None:
    result = _run(tmp_path, "no-such-model")
    assert result.returncode == 2 and "no-such-model" in result.stderr
