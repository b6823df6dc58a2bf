import math

import torch

from implicit_prm.losses import ce_loss, dpo_loss


def sig(x):
    return 1 / (1 + math.exp(-x))


def test_ce_loss_hand_computed():
    pol = torch.tensor([-10.0, -20.0, -5.0])
    ref = torch.tensor([-12.0, -15.0, -5.0])
    y = torch.tensor([1.0, 0.0, 1.0])
    beta = 0.5
    r = [0.5 * 2.0, 0.5 * -5.0, 0.0]
    want = -(math.log(sig(r[0])) + math.log(1 - sig(r[1])) + math.log(sig(r[2]))) / 3
    assert abs(float(ce_loss(pol, ref, y, beta)) - want) < 1e-6
    # reference-free: r = β Σ log πφ
    want_rf = -(math.log(sig(-5.0)) + math.log(1 - sig(-10.0)) + math.log(sig(-2.5))) / 3
    assert abs(float(ce_loss(pol, None, y, beta)) - want_rf) < 1e-6


def test_dpo_loss_hand_computed():
    pc, rc = torch.tensor([-3.0, -8.0]), torch.tensor([-4.0, -6.0])
    pr, rr = torch.tensor([-9.0, -7.0]), torch.tensor([-5.0, -7.0])
    beta = 0.1
    m = [0.1 * ((-3 + 4) - (-9 + 5)), 0.1 * ((-8 + 6) - (-7 + 7))]
    want = -(math.log(sig(m[0])) + math.log(sig(m[1]))) / 2
    assert abs(float(dpo_loss(pc, rc, pr, rr, beta)) - want) < 1e-6
    want_rf = -(math.log(sig(0.1 * (-3 + 9))) + math.log(sig(0.1 * (-8 + 7)))) / 2
    assert abs(float(dpo_loss(pc, None, pr, None, beta)) - want_rf) < 1e-6


def test_losses_have_gradients():
    pol = torch.tensor([-3.0, -4.0], requires_grad=True)
    l = ce_loss(pol, torch.tensor([-3.0, -4.0]), torch.tensor([1.0, 0.0]), 0.05)
    l.backward()
    assert pol.grad is not None and pol.grad[0] < 0 < pol.grad[1]
