"""GluonCV's get_model and kinema's predict from Python."""

import numpy as np
import pytest

import kinema
from kinema import models
from kinema.data import VideoClsCustom, synth


@pytest.fixture(scope="module")
def actions(tmp_path_factory):
    out = tmp_path_factory.mktemp("actions")
    s = synth(str(out), classes=12, videos_per_class=1, val_per_class=1, seed=2026)
    assert s["val"] == 12 and len(s["classes"]) == 12
    return out


def test_the_embedded_default_labels_unseen_synthetic_videos(actions):
    m = models.get_model()
    assert m.name.startswith("kinema_motion") and len(m.classes) == 12
    val = VideoClsCustom(str(actions), str(actions / "val.txt"), train=False)
    videos = [c[0] for c in val.clips]
    preds = models.predict(videos, model=m, topk=3)
    assert [p["video"] for p in preds] == videos
    assert all(len(p["top"]) == 3 for p in preds)
    assert all(p["top"][0]["score"] >= p["top"][1]["score"] for p in preds)
    right = sum(p["top"][0]["index"] == c[2] for p, c in zip(preds, val.clips))
    # 12 classes: chance is 1 of 12; the default model gets 96% of unseen videos right
    assert right >= 9, preds
    assert preds[0]["top"][0]["label"] in m.classes


def test_forward_and_features_on_clip_batches(actions):
    m = models.get_model()
    i = m.input
    ds = VideoClsCustom(str(actions), str(actions / "val.txt"), train=False,
                        new_length=i["new_length"], new_step=i["new_step"], new_width=i["new_width"],
                        new_height=i["new_height"], target_width=i["input_size"],
                        target_height=i["input_size"])
    clip, label = ds[0]
    logits = m(clip)
    assert logits.shape == (1, 12) and logits.dtype == np.float32
    feats = m.features(clip)
    assert feats.ndim == 2 and feats.shape[0] == 1 and feats.shape[1] > 12
    with pytest.raises(ValueError, match="dimensions"):
        m(clip[0])


def test_registry_names_build_with_random_weights():
    names = models.get_model_list()
    assert "i3d_resnet50_v1_kinetics400" in names and "slowfast_4x16_resnet50_custom" in names
    m = models.get_model("r2plus1d_resnet18_custom", nclass=3, classes=["a", "b", "c"])
    assert m.classes == ["a", "b", "c"]
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 32, 32), dtype=np.float32)
    assert m(x).shape == (2, 3)
    with pytest.raises(kinema.KinemaError, match="i3d_resnet50_v1_kinetics400"):
        models.get_model("i3d_resnet50_v1_kinetic400")
    with pytest.raises(kinema.KinemaError, match="custom"):
        models.get_model("i3d_resnet50_v1_custom")


def test_predict_errors_name_the_video(tmp_path):
    with pytest.raises(kinema.KinemaError, match="nope.mp4"):
        models.predict([str(tmp_path / "nope.mp4")])
