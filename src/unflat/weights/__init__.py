"""Everything between a model's name and a ready ``nn.Module``: fetching, caching, loading.

What each model is (architecture, weight files, licence) is in the one table, ``unflat.registry``,
filled beside each model's code. This package turns a name or a path into weights on disk and a
loaded model:

- :mod:`~unflat.weights.cache`: where weights live (``cache_dir()/<name>/``, the fixtures'
  layout: ``config.json`` + ``model.safetensors``, so a cached folder is a valid ``--weights``);
- :mod:`~unflat.weights.fetching`: downloads, verified against the registry's sha256, else the
  source's own, else the first download's, and converted once to safetensors;
- :mod:`~unflat.weights.integrity`: the sha256 records in ``source.json``, checked whenever a
  file unflat made is used, and users' files' hashes remembered in the cache;
- :mod:`~unflat.weights.checkpoints`: reading checkpoints (``weights_only=True``) and
  safetensors, writing safetensors;
- :mod:`~unflat.weights.loading`: ``--weights`` resolved, the config stored with it, a strict load;
- :mod:`~unflat.weights.outputs`: a model's outputs checked finite, naming its weights.
"""

from __future__ import annotations

from unflat.download import file_sha256, offline
from unflat.weights.cache import cache_dir, fetch_hint, is_cached, weights_path
from unflat.weights.checkpoints import read_checkpoint, read_training_state
from unflat.weights.fetching import fetch
from unflat.weights.integrity import verify_cached, weights_id, weights_label
from unflat.weights.loading import load_model, resolve_weights
from unflat.weights.outputs import check_finite, check_finite_weights

__all__ = [
    "cache_dir",
    "check_finite",
    "check_finite_weights",
    "fetch",
    "fetch_hint",
    "file_sha256",
    "is_cached",
    "load_model",
    "offline",
    "read_checkpoint",
    "read_training_state",
    "resolve_weights",
    "verify_cached",
    "weights_id",
    "weights_label",
    "weights_path",
]
