"""Chapter 10's worker launcher, outside the notebook: a platform without gloo gets one clear line."""

import json
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = ROOT / "chapters" / "10_ffn_at_scale.ipynb"


def cell_defining(nb, marker):
    for cell in nb["cells"]:
        src = "".join(cell["source"])
        if cell["cell_type"] == "code" and marker in src:
            return src
    raise AssertionError(f"no code cell of chapter 10 contains {marker!r}")


def test_without_gloo_the_launcher_says_so_in_one_line(monkeypatch, capsys):
    pytest.importorskip("torch")
    import torch.distributed as dist

    nb = json.loads(CHAPTER.read_text(encoding="utf-8"))
    monkeypatch.setattr(dist, "is_gloo_available", lambda: False)
    namespace = {}
    try:
        exec("".join(nb["cells"][1]["source"]), namespace)  # the chapter's setup cell: imports
        exec(cell_defining(nb, "WORKER_SOURCE = r"), namespace)
        exec(cell_defining(nb, "def launch("), namespace)
    finally:
        if "WORK_DIR" in namespace:
            shutil.rmtree(namespace["WORK_DIR"], ignore_errors=True)
    printed = capsys.readouterr().out.strip().splitlines()
    assert "gloo backend is not available" in printed[-1], "the cell prints one line saying why"
    with pytest.raises(RuntimeError) as err:
        namespace["launch"]("fail", 2, {"fail": {}})
    assert "\n" not in str(err.value) and "gloo" in str(err.value), "launch() refuses in one line"
