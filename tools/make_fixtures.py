#!/usr/bin/env python3
"""Test fixtures for options the shared PyTorch goldens do not cover, computed by this project's
PyTorch tools (the functions tools/train_torch.py trains with), so the engine is checked against them:

  tests/fixtures/recipe.json: the cosine beta schedule (betas and alpha-bar at chosen t, T = 1000 and
  T = 50); the training recipe's schedules (learning rate with warmup and cosine decay, EMA decay with
  warmup, per-timestep min-SNR loss weights) at chosen steps and timesteps.

  python3 tools/make_fixtures.py
"""
import json
import os

import numpy as np
import torch

from train_torch import LINEAR, alpha_bars, betas_of, ema_rate, learning_rate, loss_weights

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TS = [0, 1, 2, 10, 100, 250, 500, 750, 900, 990, 998, 999]
STEPS = [0, 1, 99, 199, 200, 201, 1000, 4999, 9999, 10000, 20000]  # 0-based, as train_torch counts
RECIPE = {'lr': 2e-3, 'warmup': 200, 'lr_decay': 'cosine', 'decay_steps': 10000, 'lr_min': 0.1, 'ema': 0.999,
          'ema_warmup': True, 'loss_weight': 'min_snr', 'snr_gamma': 5.0}


def main():
    out = {'cosine': {}}
    for T in (1000, 50):
        d = {'beta_schedule': 'cosine', 'num_diffusion_timesteps': T}
        betas = betas_of(d)
        abar = np.cumprod(1 - betas)
        ts = [t for t in TS if t < T]
        out['cosine'][str(T)] = {'t': ts, 'betas': [float(betas[t]) for t in ts], 'alpha_bar': [float(abar[t]) for t in ts]}
    abar = alpha_bars(LINEAR)
    weights = loss_weights(abar, RECIPE)
    out['schedules'] = {
        'recipe': RECIPE, 'steps': STEPS,
        'lr': [learning_rate(RECIPE, s) for s in STEPS],
        'ema': [ema_rate(RECIPE, s) for s in STEPS],
        't': TS, 'min_snr_weight': [float(weights[t]) for t in TS],
    }
    path = os.path.join(ROOT, 'tests/fixtures/recipe.json')
    json.dump(out, open(path, 'w'), indent=1)
    print(f'wrote {path}')


if __name__ == '__main__':
    torch.set_num_threads(1)
    main()
