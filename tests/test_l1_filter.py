"""L1-norm filter pruning: the ranking, the surgery (a pruned network equals the original with
the pruned channels masked after their ReLU), the authors' plans' counted FLOPs (cross-checked by
torch's FlopCounterMode) and the claim rows computed from them."""

import pytest
import torch
from torch import nn

from sparsebench import claims
from sparsebench.methods.l1_filter import flops, models, prune


def test_ranking_keeps_the_largest_l1_filters():
    w = torch.zeros(5, 2, 3, 3)
    for i, v in enumerate((0.3, 2.0, 0.1, 1.0, 0.5)):
        w[i] = v
    assert prune.keep_top(w, 2).tolist() == [1, 3]
    assert prune.filter_l1(w)[1] == pytest.approx(36.0)
    with pytest.raises(ValueError, match="removes every filter"):
        prune.keep_top(w, 0, "conv 1")
    with pytest.raises(ValueError, match="removes every filter of layer 2"):
        prune.prune_resnet(models.CifarResNet(8), (1.0, 0.0, 0.0))
    with pytest.raises(ValueError, match="plan widths"):
        prune.prune_vgg(models.VGG(), (32, "M"))
    with pytest.raises(ValueError, match="no plan"):
        prune.prune_network("resnet56", models.build("resnet56"), "C")


def _masked_forward(model, x, masks):
    """Forward with channel masks applied after the named ReLU points (the reference of surgery)."""
    hooks = [m.register_forward_hook(lambda mod, i, o, k=k: o * masks[k].reshape(1, -1, 1, 1))
             for k, m in model.named_modules() if k in masks]
    try:
        return model(x)
    finally:
        for h in hooks:
            h.remove()


def _randomize_bn(model):
    g = torch.Generator().manual_seed(5)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.1)


@torch.no_grad()
def test_vgg_surgery_equals_masking_the_pruned_channels():
    base = models.VGG()
    _randomize_bn(base)
    base.eval()
    small = prune.prune_vgg(base).eval()
    assert [m.out_channels for m in small.features if isinstance(m, nn.Conv2d)] == [
        v for v in prune.VGG16_PRUNED if v != "M"]
    convs = [m for m in base.features if isinstance(m, nn.Conv2d)]
    relus = [k for k, m in base.features.named_children() if isinstance(m, nn.ReLU)]
    widths = [v for v in prune.VGG16_PRUNED if v != "M"]
    masks = {}
    for c, r, k in zip(convs, relus, widths):
        m = torch.zeros(c.out_channels)
        m[prune.keep_top(c.weight, k)] = 1
        masks[f"features.{r}"] = m
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(small(x), _masked_forward(base, x, masks), rtol=1e-4, atol=1e-4)


@torch.no_grad()
def test_resnet_surgery_equals_masking_the_pruned_channels():
    base = models.CifarResNet(20)
    _randomize_bn(base)
    base.eval()
    small = prune.prune_resnet(base, (0.5, 0.25, 0.5), skip=(4,)).eval()
    masks = {}
    for i, (b, nb) in enumerate(zip(base.blocks, small.blocks)):
        m = torch.zeros(b.conv1.out_channels)
        m[prune.keep_top(b.conv1.weight, nb.conv1.out_channels)] = 1
        masks[f"blocks.{i}.bn1"] = m
    assert small.blocks[1].conv1.out_channels == 16  # layer id 4 skipped
    assert small.blocks[0].conv1.out_channels == 8
    # masking after bn1 is masking after its ReLU (relu(0) = 0)
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(small(x), _masked_forward(base, x, masks), rtol=1e-4, atol=1e-4)


def test_counted_flops_match_flop_counter_the_papers_figures_and_the_claim_rows():
    # one test: each network's count is computed once per process (flops.reduction is cached)
    vgg = flops.reduction("vgg16")
    r110 = flops.reduction("resnet110", "B")
    for r in (vgg, r110):
        assert r["cross_check_equal"], r
    # the paper's tables: VGG-16 3.13e8 -> 2.06e8 multiply-adds (34.2%), ResNet-110-B 38.6%
    assert vgg["flops"] / 2 == pytest.approx(3.13e8, rel=0.01) and vgg["reduction"] == pytest.approx(0.342, abs=0.002)
    assert r110["reduction"] == pytest.approx(0.386, abs=0.002)
    loaded = {c.id: c for c in claims.load_claims()}
    v = claims.evaluate(loaded["l1-filter-vgg16-flops-34pct"], [])
    assert v.verdict == "reproduced" and v.value == pytest.approx(0.342, abs=0.002)
    v = claims.evaluate(loaded["l1-filter-resnet110-flops-38pct"], [])
    assert v.verdict == "reproduced" and set(v.per_layer) == {"resnet110/A", "resnet110/B"}
    assert v.per_layer["resnet110/A"] == pytest.approx(0.159, abs=0.002)  # the paper's ResNet-110-A: 15.9%
    assert "FlopCounterMode" in v.note and "equal" in v.note
