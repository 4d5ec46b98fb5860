"""Run by ``tests/test_vlm_ddp.py`` under torchrun: two processes whose models differ by one weight
on process 1 reach the trainer's in-step check, which must fail the run."""

import torch

from baselines.vlm.model import VLM, ModelConfig
from baselines.vlm.train import _check_in_step, _distributed

_, world = _distributed()
torch.manual_seed(0)
model = VLM(ModelConfig(image_size=16, channels=4, image_tokens_side=1, width=32, layers=1, heads=2), 300)
if torch.distributed.get_rank() == 1:
    with torch.no_grad():
        next(model.parameters()).view(-1)[0] += 1e-6
_check_in_step(model, world)
