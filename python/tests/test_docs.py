"""Every ```python block of docs/python.md runs, in a folder holding a video.mp4."""

import pathlib
import re
import shutil

import pytest

DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "python.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)


def test_the_chapter_has_examples():
    assert len(BLOCKS) >= 4


@pytest.mark.parametrize("k", range(len(BLOCKS)))
def test_docs_block_runs(videos, tmp_path, monkeypatch, k):
    shutil.copy(videos["h264"], tmp_path / "video.mp4")
    monkeypatch.chdir(tmp_path)
    import kinema

    kinema.bridge.set_bridge("native")
    exec(compile(BLOCKS[k], f"docs/python.md block {k + 1}", "exec"), {})
    kinema.bridge.set_bridge("native")
