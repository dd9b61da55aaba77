"""Network building blocks shared by the models: ViT, the DPT decoder, Depth Pro's encoder and head,
and the inference helpers (precision, batching) every model runs through."""
