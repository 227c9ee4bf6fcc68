"""Reading the pickle files that OpenCap writes (calibrations, pose results).

Pickles can execute code when loaded: only read files you trust.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any


def load_pickle(path: str | os.PathLike, error: type[Exception], what: str = "file") -> Any:
    """Unpickle ``path``; Python-2 pickles are read with latin-1 strings.

    Raises:
        error: the file is missing or is not a readable pickle; the message names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise error(f"{path}: {what} not found")
    try:
        with open(path, "rb") as fh:
            return pickle.load(fh)
    except UnicodeDecodeError:  # a Python-2 pickle
        try:
            with open(path, "rb") as fh:
                return pickle.load(fh, encoding="latin1")
        except Exception as exc:  # noqa: BLE001 - any unpickling failure is a bad file
            raise error(f"{path}: not a readable pickle ({type(exc).__name__}: {exc})") from None
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is a bad file
        raise error(f"{path}: not a readable pickle ({type(exc).__name__}: {exc})") from None
