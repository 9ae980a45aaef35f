"""The SMART selector networks: each equation pinned on small tensors, masks, partners, gradients."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
from hypothesis import given, settings, strategies as st

from smartframes.selection.config import SelectorConfig
from smartframes.selection.networks import GlobalSelector, SmartSelector, masked_softmax, pair_partners
from smartframes.selection.methods import top_n

CFG = SelectorConfig(in_dim=6, num_classes=3, sfs_hidden=5, embed_dim=2, lstm_hidden=3, classifier_hidden=4, glove_dim=2)


def _identity_embedding(gs: GlobalSelector) -> None:
    """Make E(X) = ReLU(X[:, :2]) so Z can be written by hand."""
    with torch.no_grad():
        gs.embed.weight.zero_()
        gs.embed.weight[0, 0] = gs.embed.weight[1, 1] = 1.0
        gs.embed.bias.zero_()


def _fixed(lin: nn.Linear, weight, bias=0.0) -> None:
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([weight], dtype=torch.float32))
        lin.bias.fill_(bias)


def _hand_case():
    torch.manual_seed(0)
    gs = GlobalSelector(CFG).eval()
    _identity_embedding(gs)
    x = torch.zeros(1, 3, 6)
    x[0, :, 0] = torch.tensor([1.0, 2.0, 3.0])
    x[0, :, 1] = torch.tensor([0.5, 0.0, 1.0])
    partners = torch.tensor([[2, 2, 2]])
    mask = torch.ones(1, 3, dtype=torch.bool)
    # Z_i = [x_i : x_r] with r = 2 for all: Z = [[1, .5, 3, 1], [2, 0, 3, 1], [3, 1, 3, 1]]
    Z = torch.tensor([[1.0, 0.5, 3.0, 1.0], [2.0, 0.0, 3.0, 1.0], [3.0, 1.0, 3.0, 1.0]])
    return gs, x, mask, partners, Z


def test_pairs_are_concatenated():
    gs, x, _, partners, Z = _hand_case()
    torch.testing.assert_close(gs.pairs_input(x, partners)[0], Z)


def test_eq1_attention_and_global_feature():
    gs, x, mask, partners, Z = _hand_case()
    _fixed(gs.U, [0.1, -0.2, 0.0, 0.3], 0.05)
    out = gs(x, mask, partners)
    alpha = torch.sigmoid(Z @ torch.tensor([0.1, -0.2, 0.0, 0.3]) + 0.05)
    torch.testing.assert_close(out.alpha[0], alpha)


@pytest.mark.parametrize("from_frame", [False, True])
def test_eq2_to_eq6_by_hand(from_frame):
    gs, x, mask, partners, Z = _hand_case()
    gs.cfg = SelectorConfig(**{**CFG.__dict__, "gamma_from_frame": from_frame})
    _fixed(gs.U, [0.1, -0.2, 0.0, 0.3])
    _fixed(gs.theta1, [0.2, 0.1, -0.1, 0.0, 0.3, -0.2, 0.1, 0.05])
    _fixed(gs.theta2, [-0.1, 0.2, 0.1, 0.0, 0.05, 0.1, -0.2, 0.3])
    _fixed(gs.V, [0.5, -0.5, 1.0], 0.2)
    out = gs(x, mask, partners)
    alpha = torch.sigmoid(Z @ gs.U.weight[0])
    Zp = (alpha[:, None] * Z).sum(0) / alpha.sum()  # Eq. 1
    beta = torch.sigmoid(torch.cat([Z, Zp.expand_as(Z)], 1) @ gs.theta1.weight[0])  # Eq. 2
    omega = torch.stack([(beta[: t + 1, None] * Z[: t + 1]).sum(0) for t in range(3)])
    h, _ = gs.lstm(omega[None])  # Eq. 3
    lam = torch.softmax(h[0] @ gs.V.weight[0] + 0.2, dim=0)  # Eq. 4
    Zpp = (lam[:, None] * omega).sum(0) / lam.sum()  # Eq. 5
    local = beta[:, None] * Z if from_frame else omega  # frame t's own term, or the running sum as printed
    gamma = torch.sigmoid(torch.cat([local, Zpp.expand_as(omega)], 1) @ gs.theta2.weight[0])
    c = (gamma[:, None] * h[0]).sum(0)  # Eq. 6
    torch.testing.assert_close(out.beta[0], beta)
    torch.testing.assert_close(out.lam[0], lam)
    torch.testing.assert_close(lam.sum(), torch.tensor(1.0))
    torch.testing.assert_close(out.gamma[0], gamma)
    torch.testing.assert_close(out.logits[0], gs.classifier(c))


def test_eq7_regulariser_is_sum_of_squares_of_theta2():
    gs = GlobalSelector(CFG)
    assert torch.isclose(gs.regulariser(), (gs.theta2.weight ** 2).sum())


def test_masked_softmax_ignores_padding():
    logits = torch.tensor([[1.0, 2.0, 3.0, 50.0]])
    mask = torch.tensor([[True, True, True, False]])
    out = masked_softmax(logits, mask)
    torch.testing.assert_close(out[0, :3], torch.softmax(logits[0, :3], 0))
    assert out[0, 3] == 0


def test_padding_changes_no_score():
    torch.manual_seed(1)
    model = SmartSelector(CFG).eval()
    a, b = torch.randn(1, 5, 6), torch.randn(1, 8, 6)
    pa = pair_partners(torch.tensor([5]), 5, torch.Generator().manual_seed(3))
    pb = pair_partners(torch.tensor([8]), 8, torch.Generator().manual_seed(4))
    alone_a = model(a, torch.ones(1, 5, dtype=torch.bool), pa)
    alone_b = model(b, torch.ones(1, 8, dtype=torch.bool), pb)
    x = torch.zeros(2, 8, 6)
    x[0, :5], x[1] = a[0], b[0]
    x[0, 5:] = 123.0  # garbage in the padding
    mask = torch.arange(8)[None] < torch.tensor([[5], [8]])
    partners = torch.stack([torch.cat([pa[0], torch.arange(5, 8)]), pb[0]])
    score, delta, out = model(x, mask, partners)
    torch.testing.assert_close(score[0, :5], alone_a[0][0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(score[1], alone_b[0][0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out.logits[0], alone_a[2].logits[0], atol=1e-5, rtol=1e-5)
    assert torch.all(score[0, 5:] == 0)


def test_default_partners_are_the_inference_draw():
    torch.manual_seed(2)
    model = SmartSelector(CFG).eval()
    x, mask = torch.randn(2, 7, 6), torch.arange(7)[None] < torch.tensor([[4], [7]])
    alone = [pair_partners(torch.tensor([n]), n, torch.Generator().manual_seed(0))[0] for n in (4, 7)]
    drawn = torch.stack([torch.cat([alone[0], torch.arange(4, 7)]), alone[1]])  # each video's own draw, as serving
    torch.testing.assert_close(model(x, mask)[0], model(x, mask, drawn)[0])
    torch.testing.assert_close(model(x, mask)[0][0, :4], model(x[:1, :4], mask[:1, :4])[0][0], atol=1e-6, rtol=1e-6)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(1, 40), min_size=1, max_size=6), st.integers(0, 2**31 - 1))
def test_partners_are_later_frames(lengths, seed):
    T = max(lengths)
    r = pair_partners(torch.tensor(lengths), T, torch.Generator().manual_seed(seed))
    for b, n in enumerate(lengths):
        for i in range(n - 1):
            assert i < r[b, i] < n
        assert r[b, n - 1] == n - 1


def test_every_parameter_receives_gradient():
    torch.manual_seed(2)
    model = SmartSelector(CFG)
    x = torch.randn(3, 7, 6)
    mask = torch.arange(7)[None] < torch.tensor([[7], [4], [6]])
    partners = pair_partners(mask.sum(1), 7, torch.Generator().manual_seed(0))
    score, delta, out = model(x, mask, partners)
    loss = torch.nn.functional.cross_entropy(out.logits, torch.tensor([0, 1, 2])) + delta.sum() + model.gs.regulariser()
    loss.backward()
    # the frame evidence is fitted apart (train.fit_evidence), not by gradient descent; Eq. 4's bias
    # shifts every logit of a softmax over time alike, so its gradient is zero but for rounding
    exempt = ("evidence.", "gs.V.bias")
    missing = [n for n, p in model.named_parameters()
               if not n.startswith(exempt) and (p.grad is None or not torch.any(p.grad != 0))]
    assert not missing


def test_ablation_switches():
    torch.manual_seed(3)
    x, mask = torch.randn(1, 6, 6), torch.ones(1, 6, dtype=torch.bool)
    partners = pair_partners(torch.tensor([6]), 6, torch.Generator().manual_seed(0))
    full = SmartSelector(CFG).eval()
    score, delta, out = full(x, mask, partners)
    evidence = full.frame_evidence(full.prepare(x, mask))
    assert torch.all((evidence >= 1 / 3 - 1e-6) & (evidence <= 1))
    torch.testing.assert_close(score, delta * out.gamma * evidence)
    sfs_only = SmartSelector(SelectorConfig(**{**CFG.__dict__, "use_gs": False}))
    sfs_only.load_state_dict(full.state_dict())
    torch.testing.assert_close(sfs_only(x, mask, partners)[0], delta * evidence)
    plain = SmartSelector(SelectorConfig(**{**CFG.__dict__, "use_evidence": False}))
    plain.load_state_dict({k: v for k, v in full.state_dict().items() if not k.startswith("evidence.")})
    torch.testing.assert_close(plain(x, mask, partners)[0], delta * out.gamma)
    leaning = SmartSelector(SelectorConfig(**{**CFG.__dict__, "evidence_power": 4.0}))
    leaning.load_state_dict(full.state_dict())
    torch.testing.assert_close(leaning(x, mask, partners)[0], delta * out.gamma * evidence ** 4)
    single = GlobalSelector(SelectorConfig(**{**CFG.__dict__, "pairs": False}))
    assert single.pairs_input(x, None).shape == (1, 6, 2)
    no_glove = SmartSelector(SelectorConfig(**{**CFG.__dict__, "use_glove": False}))
    prepared = no_glove.prepare(x, mask)
    assert torch.all(prepared[..., -2:] == 0) and torch.equal(prepared[..., :-2], x[..., :-2])


def test_inputs_are_standardised_with_training_statistics():
    torch.manual_seed(4)
    train = torch.randn(500, 6) * torch.tensor([100.0, 0.01, 1.0, 5.0, 2.0, 0.5]) + 7.0
    model = SmartSelector(CFG)
    model.set_input_statistics(train)
    mask = torch.tensor([[True, True, False]])
    x = torch.cat([train[:2], torch.full((1, 6), 1e6)])[None]  # (1, 3, 6), garbage in the padding
    prepared = model.prepare(x, mask)
    torch.testing.assert_close(prepared[0, :2], (train[:2] - train.mean(0)) / train.std(0), atol=1e-4, rtol=1e-4)
    assert torch.all(prepared[0, 2] == 0)
    assert {"x_mean", "x_std"} <= set(model.state_dict())  # stored with the checkpoint


def test_top_n_in_time_order_with_deterministic_ties():
    assert top_n([0.1, 0.9, 0.5, 0.9, 0.2], 2) == [1, 3]
    assert top_n([0.5, 0.5, 0.5, 0.5], 2) == [0, 1]
    assert top_n([0.3, 0.1], 5) == [0, 1]
    assert top_n([0.3, 0.1, 0.7], 2) == [0, 2]
