"""The SMART selector networks (paper: "Single-frame Selector", "Global Selector", Eq. 1-7).

Shapes: B videos, T candidate frames (padded), D light-feature width, E embedding width,
H LSTM width, C classes. ``mask`` (B, T) is True on real frames; padded frames change no score.

The global selector first embeds every frame, E(X_i) = ReLU(W X_i + b) (D -> E), so that the
pairs Z_i = [E(X_i) : E(X_r)] and the LSTM stay small enough to score 300 frames in a few ms;
Eq. 1-7 then apply to Z as written, with one change by default (``gamma_from_frame``): Eq. 5 takes
frame t's own beta_t Z_t where the paper has the running sum omega_t, because a gamma computed
from omega_t is a smooth function of position that cannot single out a frame (README, "Where we
depart from the paper"). A second departure (``use_evidence``) weighs each frame's score by how
plainly it shows one of the trained classes: the largest class probability of a linear classifier
on the frame's light features, fitted to the frames of the actions only, so that footage unlike
anything in training (which delta and gamma, fitted to the training videos' own background, may rate
high) is not chosen unless it looks like an action of the classes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import SelectorConfig


STD_FLOOR = 1e-3
"""Smallest std a standardised feature is divided by: a feature constant over the training frames
(a dead channel) must not blow up on a new frame where it is not."""


def feature_statistics(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-feature mean and std (floored at :data:`STD_FLOOR`) of frames x (N, D), each (D,): the
    standardisation of the selector's and the expensive head's inputs."""
    return x.mean(0), x.std(0).clamp_min(STD_FLOOR)


def masked_softmax(logits: torch.Tensor, mask: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Softmax over ``dim`` that gives exactly zero weight to masked-out entries."""
    logits = logits.masked_fill(~mask, float("-inf"))
    return torch.softmax(logits, dim=dim).masked_fill(~mask, 0.0)


def pair_partners(lengths: torch.Tensor, T: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """For every frame i < length, a partner r drawn uniformly from the frames after it
    (i < r < length); the last real frame pairs with itself. Padded positions point at themselves.

    Args:
        lengths: (B,) number of real frames per video.
        T: padded length.
        generator: torch random generator; fix its seed for reproducible inference.

    Returns:
        int64 (B, T).
    """
    i = torch.arange(T).expand(len(lengths), T)  # (B, T)
    after = (lengths[:, None] - 1 - i).clamp_min(0)  # frames strictly after i
    u = torch.rand(len(lengths), T, generator=generator)
    r = i + 1 + torch.floor(u * after).long()
    return torch.where(after > 0, r, i)


def inference_partners(lengths: torch.Tensor, T: int, seed: int = 0) -> torch.Tensor:
    """The partners serving uses: each video's own :func:`pair_partners` draw with ``seed``, as if
    it were alone, so that batching and padding change no score. lengths (B,) -> int64 (B, T),
    padded positions pointing at themselves."""
    return torch.stack([
        torch.cat([pair_partners(torch.tensor([n]), n, torch.Generator().manual_seed(seed))[0], torch.arange(n, T)])
        for n in lengths.tolist()])


def relate(linear: nn.Linear, local: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
    """``linear([local_t : context])`` for every t without building the concatenation: the
    context's half of the product is one number per video. local (B, T, z), context (B, z) -> (B, T)."""
    w = linear.weight.T  # (2z, 1)
    z = local.shape[-1]
    return (local @ w[:z] + (context @ w[z:] + linear.bias).unsqueeze(1)).squeeze(-1)


class SingleFrameSelector(nn.Module):
    """2-layer MLP: X_i (D) -> delta_i in [0, 1], trained to regress p_expensive(y | frame i)."""

    def __init__(self, cfg: SelectorConfig):
        super().__init__()
        self.fc1 = nn.Linear(cfg.in_dim, cfg.sfs_hidden)
        self.drop = nn.Dropout(cfg.dropout)
        self.fc2 = nn.Linear(cfg.sfs_hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, D) -> delta (B, T)."""
        return torch.sigmoid(self.fc2(self.drop(F.relu(self.fc1(x))))).squeeze(-1)


@dataclass
class GlobalOutput:
    gamma: torch.Tensor  # (B, T) relational-temporal weights, the frame scores
    logits: torch.Tensor  # (B, C) video class logits from c
    alpha: torch.Tensor  # (B, T) Eq. 1
    beta: torch.Tensor  # (B, T) Eq. 2
    lam: torch.Tensor  # (B, T) Eq. 4


class GlobalSelector(nn.Module):
    """Attention + relation + LSTM over frame pairs (Eq. 1-7)."""

    def __init__(self, cfg: SelectorConfig):
        super().__init__()
        self.cfg = cfg
        E = cfg.embed_dim
        z = 2 * E if cfg.pairs else E  # width of Z_i
        self.embed = nn.Linear(cfg.in_dim, E)
        self.drop = nn.Dropout(cfg.dropout)
        self.U = nn.Linear(z, 1)  # Eq. 1
        self.theta1 = nn.Linear(2 * z, 1)  # Eq. 2
        self.lstm = nn.LSTM(z, cfg.lstm_hidden, batch_first=True)  # Eq. 3
        self.V = nn.Linear(cfg.lstm_hidden, 1)  # Eq. 4, V and b
        self.theta2 = nn.Linear(2 * z, 1)  # Eq. 5
        self.classifier = nn.Sequential(  # Eq. 6: c -> MLP -> class
            nn.Linear(cfg.lstm_hidden, cfg.classifier_hidden), nn.ReLU(), nn.Linear(cfg.classifier_hidden, cfg.num_classes)
        )

    def pairs_input(self, x: torch.Tensor, partners: torch.Tensor | None) -> torch.Tensor:
        """Z (B, T, 2E) = [E(X_i) : E(X_r)], or (B, T, E) = E(X_i) without pairs."""
        e = self.drop(F.relu(self.embed(x)))  # (B, T, E)
        if not self.cfg.pairs:
            return e
        partner = torch.gather(e, 1, partners.unsqueeze(-1).expand_as(e))  # (B, T, E)
        return torch.cat([e, partner], dim=-1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, partners: torch.Tensor | None = None) -> GlobalOutput:
        """x (B, T, D), mask (B, T), partners (B, T) -> gamma (B, T) and class logits (B, C).

        Without ``partners``, they are drawn as at inference (:func:`inference_partners`, seed 0)."""
        if self.cfg.pairs and partners is None:
            partners = inference_partners(mask.sum(1).cpu(), x.shape[1]).to(x.device)
        m = mask.float()  # (B, T)
        Z = self.pairs_input(x, partners) * m.unsqueeze(-1)  # (B, T, z)

        # Eq. 1: alpha_i = sigma(Z_i U);  Z' = sum_i alpha_i Z_i / sum_i alpha_i
        alpha = torch.sigmoid(self.U(Z)).squeeze(-1) * m  # (B, T)
        Z1 = (alpha.unsqueeze(-1) * Z).sum(1) / alpha.sum(1, keepdim=True).clamp_min(1e-6)  # (B, z)

        # Eq. 2: beta_i = sigma([Z_i : Z'] Theta1);  omega_t = sum_{i<=t} beta_i Z_i
        beta = torch.sigmoid(relate(self.theta1, Z, Z1)) * m  # (B, T)
        omega = torch.cumsum(beta.unsqueeze(-1) * Z, dim=1)  # (B, T, z)

        # Eq. 3: h_t, m_t = LSTM(omega_t, h_{t-1}, m_{t-1}); causal, so trailing padding is inert
        # in float32 whatever the autocast: oneDNN has no bfloat16 LSTM on CPUs without AVX-512 (it fails to build one)
        with torch.autocast(omega.device.type, enabled=False):
            h, _ = self.lstm(omega.float())  # (B, T, H)

        # Eq. 4: lambda_t = softmax_t(V h_t + b)
        lam = masked_softmax(self.V(h).squeeze(-1), mask, dim=1)  # (B, T)

        # Eq. 5: Z'' = sum_t lambda_t omega_t / sum_t lambda_t;  gamma_t = sigma([omega_t : Z''] Theta2), where
        # gamma_from_frame puts frame t's own beta_t Z_t in place of the running sum omega_t
        Z2 = (lam.unsqueeze(-1) * omega).sum(1) / lam.sum(1, keepdim=True).clamp_min(1e-6)  # (B, z)
        local = beta.unsqueeze(-1) * Z if self.cfg.gamma_from_frame else omega  # (B, T, z)
        gamma = torch.sigmoid(relate(self.theta2, local, Z2)) * m  # (B, T)

        # Eq. 6: c = sum_t gamma_t h_t -> MLP -> class
        c = (gamma.unsqueeze(-1) * h).sum(1)  # (B, H)
        return GlobalOutput(gamma, self.classifier(c), alpha, beta, lam)

    def regulariser(self) -> torch.Tensor:
        """Eq. 7's penalty: sum_ij Theta2_ij^2."""
        return self.theta2.weight.pow(2).sum()


class SmartSelector(nn.Module):
    """Both selectors; the frame score is s_i = delta_i * gamma_i * e_i ** k (delta or gamma alone in
    the ablations), e_i the frame evidence (:meth:`frame_evidence`; 1 without ``use_evidence``) and k
    the config's ``evidence_power``.

    Inputs are standardised per feature with the training set's mean and std (buffers, stored in
    the checkpoint): raw Lite0 embeddings span two orders of magnitude per dimension and dwarf the
    50 GloVe numbers, and unscaled they can kill the global selector's ReLU embedding in training.
    """

    def __init__(self, cfg: SelectorConfig):
        super().__init__()
        self.cfg = cfg
        self.register_buffer("x_mean", torch.zeros(cfg.in_dim))
        self.register_buffer("x_std", torch.ones(cfg.in_dim))
        self.sfs = SingleFrameSelector(cfg)
        self.gs = GlobalSelector(cfg)
        # linear classifier of the standardised light features, fitted to the action frames alone
        # (train.fit_evidence), not by gradient descent with the rest
        self.evidence = nn.Linear(cfg.in_dim, cfg.num_classes).requires_grad_(False) if cfg.use_evidence else None

    def set_input_statistics(self, x: torch.Tensor) -> None:
        """Standardise with the per-feature mean and std of training frames x (N, D)."""
        mean, std = feature_statistics(x)
        self.x_mean.copy_(mean)
        self.x_std.copy_(std)

    def prepare(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Standardise x (B, T, D), zero the padding, and drop the GloVe columns when the config
        says so (zeroing keeps the input width)."""
        x = torch.addcmul(-self.x_mean / self.x_std, x, 1 / self.x_std)  # (x - mean) / std
        if not bool(mask.all()):
            x = x * mask.unsqueeze(-1)
        if not self.cfg.use_glove:
            x = torch.cat([x[..., : -self.cfg.glove_dim], torch.zeros_like(x[..., -self.cfg.glove_dim :])], -1)
        return x

    def frame_evidence(self, x: torch.Tensor) -> torch.Tensor:
        """Standardised x (B, T, D) -> e (B, T) in (0, 1), high on frames that plainly show one of the
        trained classes. ``energy``: sigmoid(logsumexp(logits)), the probability of "some class"
        against a background whose logit is 0 (fitting puts the median action frame there), low
        on footage the classifier has no strong logit for, familiar or not; ``class``: the largest
        class probability, which footage unlike every class can still reach when one logit merely
        leads the others."""
        logits = self.evidence(x).float()  # (B, T, C)
        if self.cfg.evidence_score == "energy":
            return torch.sigmoid(torch.logsumexp(logits, dim=-1))
        return torch.softmax(logits, dim=-1).amax(-1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, partners: torch.Tensor | None = None):
        """x (B, T, D), mask (B, T) -> (score (B, T), delta (B, T), GlobalOutput)."""
        x = self.prepare(x, mask)
        delta = self.sfs(x) * mask.float()  # (B, T)
        out = self.gs(x, mask, partners)
        ones = mask.float()
        score = (delta if self.cfg.use_sfs else ones) * (out.gamma if self.cfg.use_gs else ones)
        if self.evidence is not None:
            score = score * self.frame_evidence(x).pow(self.cfg.evidence_power)
        return score, delta, out
