"""Few-shot adversarial talking heads (Zakharov et al. 2019), trained by unflat.

``model`` (embedder, generator with AdaIN from P·ê, projection discriminator), ``landmark_image``
(the mesh drawn as coloured polylines), ``losses``, ``meta`` (the meta-learning stage),
``finetune`` (the few-shot stage), ``synthetic`` (procedural faces that prove it learns), ``data``
(the video-folder layout) and ``train`` (one device or ``torchrun``). No weights are published for
this model: a user trains it (``docs/fewshot.md``).
"""
