"""GluonCV's model zoo by name: ``get_model(name, nclass=None, pretrained=False)``.

``get_model()`` with no name is kinema's embedded default model (trained on kinema's synthetic
action dataset); a registry name builds that GluonCV architecture (``pretrained=True`` loads
the published weights from the model store cache, ``weights=`` a ``.params``, ``.pth``/``.pt``
or ``.safetensors`` file); a path loads a model file written by ``kinema train``.
"""

from ._kinema import Model, get_model, get_model_list

__all__ = ["Model", "get_model", "get_model_list", "predict"]


def predict(videos, model=None, topk=5, **kwargs):
    """Top labels of each video: ``[{"video", "top": [{"label", "index", "score"}]}]``.

    ``model`` is a ``Model``, a name or file for ``get_model``, or ``None`` (the embedded
    default). ``kwargs`` go to ``Model.predict`` (``num_clips``, ``batch_size``,
    ``num_workers``)."""
    if isinstance(videos, (str, bytes)) or hasattr(videos, "__fspath__"):
        videos = [videos]
    m = model if isinstance(model, Model) else get_model(model)
    return m.predict(list(videos), topk=topk, **kwargs)
