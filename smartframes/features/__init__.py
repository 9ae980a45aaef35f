"""Per-frame features: the backbones, the GloVe words, the extractor, and the store that keeps
them."""
