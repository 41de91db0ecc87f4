"""GluonCV's VideoClsCustom from Python."""

import numpy as np
import pytest

from kinema.data import VideoClsCustom


@pytest.fixture()
def setting(videos, tmp_path):
    root = tmp_path
    lines = [f"{videos['h264']} 60 0", f"{videos['vp9']} 40 1", f"{videos['mpeg4']} 0 1"]
    (root / "train.txt").write_text("\n".join(lines) + "\n")
    return root, root / "train.txt"


def test_clips_have_gluoncv_shapes_and_labels(setting):
    root, path = setting
    ds = VideoClsCustom(str(root), str(path), train=False, new_length=8, new_step=2,
                        new_width=64, new_height=48, target_width=32, target_height=32)
    assert len(ds) == 3 and ds.clip_shape == [1, 3, 8, 32, 32]
    clip, label = ds[0]
    assert clip.shape == (1, 3, 8, 32, 32) and clip.dtype == np.float32 and label == 0
    assert ds[-1][1] == 1 and [c[2] for c in ds.clips] == [0, 1, 1]
    # val mode is deterministic; ImageNet normalization puts values around 0
    assert np.array_equal(ds[1][0], ds[1][0]) and -3 < clip.mean() < 3
    tsn = VideoClsCustom(str(root), str(path), train=True, num_segments=3, new_width=64,
                         new_height=48, target_width=32, target_height=32, seed=1)
    assert tsn[2][0].shape == (3, 3, 32, 32)
    a = tsn[2][0]
    tsn.set_epoch(1)
    assert not np.array_equal(a, tsn[2][0])  # new epoch, new augmentation
    tsn.set_epoch(0)
    assert np.array_equal(a, tsn[2][0])  # and reproducible


def test_dataset_errors_name_file_and_line(setting, tmp_path):
    root, path = setting
    bad = tmp_path / "bad.txt"
    bad.write_text(path.read_text() + "only_two 5\n")
    with pytest.raises(RuntimeError, match=r"bad.txt.*4"):
        VideoClsCustom(str(root), str(bad))
    with pytest.raises(ValueError, match="transform"):
        VideoClsCustom(str(root), str(path), transform=lambda x: x)
    ds = VideoClsCustom(str(root), str(path))
    with pytest.raises(IndexError):
        ds[3]


def test_clip_keywords_come_from_the_clip_spec(setting):
    root, path = setting
    # SlowFast: 16 consecutive frames, every 2nd for the fast pathway and every 8th for the
    # slow one: 8 + 2 along T; input_size sets both crop sides.
    sf = VideoClsCustom(str(root), str(path), train=False, new_length=16, slowfast=True,
                        slow_temporal_stride=8, new_width=64, new_height=48, input_size=32,
                        mean=[0.5, 0.5, 0.5], std=(0.25, 0.25, 0.25))
    assert sf.clip_shape == [1, 3, 10, 32, 32]
    with pytest.raises(TypeError, match="new_lenght"):
        VideoClsCustom(str(root), str(path), new_lenght=8)
    with pytest.raises(TypeError, match="new_length"):
        VideoClsCustom(str(root), str(path), new_length="eight")
    with pytest.raises(ValueError, match="new_length"):
        VideoClsCustom(str(root), str(path), new_length=-1)
    with pytest.raises(ValueError, match="mean"):
        VideoClsCustom(str(root), str(path), mean=[0.5, 0.5])
    with pytest.raises(RuntimeError, match="new_step"):
        VideoClsCustom(str(root), str(path), new_step=0)


def test_numpy_scalars_and_positional_arguments(setting):
    root, path = setting
    ds = VideoClsCustom(str(root), str(path), train=False, new_length=np.int64(4),
                        slowfast=np.bool_(False), new_width=np.int32(64), new_height=48,
                        input_size=32, mean=np.array([0.5, 0.5, 0.5]))
    assert ds.clip_shape == [1, 3, 4, 32, 32]
    # GluonCV's 9th positional parameter is num_segments; kinema's clip parameters are
    # keywords, so a positional one is refused rather than bound to another parameter.
    with pytest.raises(TypeError):
        VideoClsCustom(str(root), str(path), False, False, "img_%05d.jpg", "mp4", True, "rgb", 3)
