import torch

from implicit_prm.model import GPT, ModelConfig


def small():
    torch.manual_seed(0)
    return GPT(ModelConfig(vocab_size=20, d_model=32, n_layers=2, n_heads=4, d_ff=64, max_seq_len=64, init_std=0.3)).eval()


@torch.no_grad()
def test_kv_cached_matches_uncached():
    m = small()
    ids = torch.randint(0, 20, (3, 17))
    full = m(ids)
    past = m.empty_past(3)
    outs = []
    for a, b in ((0, 5), (5, 6), (6, 12), (12, 17)):
        mask = torch.ones(3, b, dtype=torch.long)
        pos = torch.arange(a, b).unsqueeze(0).expand(3, -1)
        lg, past = m(ids[:, a:b], attention_mask=mask, position_ids=pos, past=past)
        outs.append(lg)
    assert torch.allclose(torch.cat(outs, 1), full, atol=1e-5)


@torch.no_grad()
def test_padding_semantics():
    """Right padding and a padded past (mask 0) do not change real tokens' outputs."""
    m = small()
    a = torch.randint(0, 20, (1, 9))
    b = torch.randint(0, 20, (1, 6))
    ref_a, ref_b = m(a), m(b)
    # pass 1: prompts (5 and 3 tokens) right-padded to 5
    ids1 = torch.zeros(2, 5, dtype=torch.long)
    ids1[0] = a[0, :5]
    ids1[1, :3] = b[0, :3]
    mask1 = torch.tensor([[1] * 5, [1, 1, 1, 0, 0]])
    pos1 = torch.tensor([[0, 1, 2, 3, 4], [0, 1, 2, 0, 0]])
    lg1, past = m(ids1, attention_mask=mask1, position_ids=pos1, past=m.empty_past(2))
    # pass 2: rest (4 and 3 tokens), right-padded to 4, on top of the padded past
    ids2 = torch.zeros(2, 4, dtype=torch.long)
    ids2[0] = a[0, 5:]
    ids2[1, :3] = b[0, 3:]
    mask2 = torch.cat([mask1, torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]])], 1)
    pos2 = torch.tensor([[5, 6, 7, 8], [3, 4, 5, 0]])
    lg2, _ = m(ids2, attention_mask=mask2, position_ids=pos2, past=past)
    assert torch.allclose(torch.cat([lg1[0], lg2[0]]), ref_a[0], atol=1e-5)
    assert torch.allclose(torch.cat([lg1[1, :3], lg2[1, :3]]), ref_b[0], atol=1e-5)
    # a fully masked row gives finite numbers, not NaN
    lg, _ = m(ids2, attention_mask=torch.zeros(2, 9, dtype=torch.long), position_ids=pos2, past=past)
    assert torch.isfinite(lg).all()
