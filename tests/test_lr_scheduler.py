"""optim.lr_scheduler: each schedule's learning rates against PyTorch's over 200 steps, and exact resume."""

import pytest

import minigan as mg
from minigan import nn, optim

torch = pytest.importorskip("torch")

SCHEDULES = {
    "StepLR": dict(step_size=7, gamma=0.5),
    "MultiStepLR": dict(milestones=[5, 30, 31, 120], gamma=0.3),
    "ExponentialLR": dict(gamma=0.97),
    "CosineAnnealingLR": dict(T_max=50, eta_min=1e-5),
    "LinearLR": dict(start_factor=0.25, end_factor=1.0, total_iters=40),
    "LambdaLR": dict(lr_lambda=lambda epoch: 1.0 / (1 + epoch) ** 0.5),
}


def two_group_optimizers():
    ours = nn.Linear(3, 2)
    opt = optim.SGD([{"params": [ours.weight], "lr": 0.1}, {"params": [ours.bias], "lr": 0.02}], lr=0.1, momentum=0.9)
    theirs = torch.nn.Linear(3, 2)
    topt = torch.optim.SGD(
        [{"params": [theirs.weight], "lr": 0.1}, {"params": [theirs.bias], "lr": 0.02}], lr=0.1, momentum=0.9
    )
    return opt, topt


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_learning_rates_match_pytorch_for_200_steps(name):
    opt, topt = two_group_optimizers()
    ours = getattr(optim.lr_scheduler, name)(opt, **SCHEDULES[name])
    theirs = getattr(torch.optim.lr_scheduler, name)(topt, **SCHEDULES[name])
    for step in range(200):
        assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-12, abs=1e-15), step
        assert [g["lr"] for g in opt.param_groups] == ours.get_last_lr()
        topt.step()
        ours.step()
        theirs.step()


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_a_resumed_schedule_continues_exactly_through_a_checkpoint_file(name, tmp_path):
    opt, _ = two_group_optimizers()
    schedule = getattr(optim.lr_scheduler, name)(opt, **SCHEDULES[name])
    for _ in range(37):
        schedule.step()
    mg.save({"opt": opt.state_dict(), "schedule": schedule.state_dict()}, str(tmp_path / "ckpt.safetensors"))
    expected = []
    for _ in range(20):
        schedule.step()
        expected.append(schedule.get_last_lr())

    state = mg.load(str(tmp_path / "ckpt.safetensors"))
    opt2, _ = two_group_optimizers()
    opt2.load_state_dict(state["opt"])
    resumed = getattr(optim.lr_scheduler, name)(opt2, **SCHEDULES[name])
    resumed.load_state_dict(state["schedule"])
    got = []
    for _ in range(20):
        resumed.step()
        got.append(resumed.get_last_lr())
    assert got == expected


def test_bad_arguments_and_foreign_states_are_refused():
    opt, _ = two_group_optimizers()
    with pytest.raises(ValueError, match="step_size must be positive"):
        optim.lr_scheduler.StepLR(opt, step_size=0)
    with pytest.raises(TypeError, match="T_max must be an int"):
        optim.lr_scheduler.CosineAnnealingLR(opt, T_max=2.5)
    with pytest.raises(ValueError, match="2 param_groups"):
        optim.lr_scheduler.LambdaLR(opt, [lambda e: 1.0])
    with pytest.raises(TypeError, match="minigan optimizer"):
        optim.lr_scheduler.StepLR(object(), step_size=1)
    step = optim.lr_scheduler.StepLR(opt, step_size=3)
    cosine = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10)
    with pytest.raises(ValueError, match="saved by 'StepLR'"):
        cosine.load_state_dict(step.state_dict())
