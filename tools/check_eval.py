#!/usr/bin/env python3
"""Checks that the engine and tools/eval_torch.py agree on the same weights (issue 11 asks for it once;
rerun it after changing either). Three comparisons on one sample set:

  1. `ddim sample` (the engine; SwiftShader here) draws x_T and runs plain DDIM (eta 0) for N samples;
     PyTorch runs the reference sampler (eval_torch.sample) from the same x_T: the samples must match.
  2. The engine's measure (`ddim eval --samples`) and eval_torch's (features, frechet, NoiseTest) score
     the engine's samples against the held-out emoji: the FD and the share of noise samples must match.
  3. eval_torch's FD of PyTorch's own samples from the same x_T, for scale.

  python3 tools/check_eval.py --weights public/models/emoji16.safetensors [--n 32] [--steps 10]
"""
import argparse
import os
import re
import subprocess
import tempfile

import numpy as np
import torch

from eval_torch import NoiseTest, features, frechet, load_model, sample, uniform_seq
from train_torch import load_emoji_split, read_safetensors

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--weights', required=True)
    p.add_argument('--n', type=int, default=32)
    p.add_argument('--steps', type=int, default=10)
    args = p.parse_args()
    args.weights = os.path.abspath(args.weights)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, 'engine.safetensors')
        ddim = ['node', os.path.join(ROOT, 'bin/ddim.mjs')]
        subprocess.run(ddim + ['sample', '--weights', args.weights, '--steps', str(args.steps), '--eta', '0', '--n', str(args.n),
                               '--seed', '0', '--out', out], check=True, cwd=ROOT, capture_output=True)
        scored = subprocess.run(ddim + ['eval', '--samples', out, '--data', 'emoji16'], check=True, cwd=ROOT, capture_output=True, text=True).stdout
        given = re.search(r'^given\s+-\s+([\d.]+)\s+([\d.]+)%', scored, re.M)
        engine_fd, engine_noise = float(given.group(1)), float(given.group(2)) / 100
        xs, _ = read_safetensors(out)
    xs = xs['xs']
    x_t, engine = xs[0], xs[-1].clamp(-1, 1)
    model, cfg, _, abar = load_model(args.weights)
    seq = uniform_seq(args.steps, len(abar))
    torch_samples = sample(model, abar, seq, x_t, 'generalized', 0.0, torch.Generator().manual_seed(0))
    held = features(load_emoji_split(cfg['resolution'], 'eval'))
    diff = (engine - torch_samples).abs()
    print(f'{args.n} samples, plain DDIM (eta 0) at {args.steps} steps from the engine\'s x_T, {args.weights}')
    print(f'  samples, engine vs PyTorch: max |diff| {diff.max().item():.2e}, mean {diff.mean().item():.2e}')
    print(f'  FD of the engine\'s samples: engine measure {engine_fd:.3f}, eval_torch measure {frechet(features(engine), held):.3f}')
    noise = NoiseTest(load_emoji_split(cfg['resolution'], 'train')).share(engine)
    print(f'  noise samples among them: engine measure {100 * engine_noise:.1f}%, eval_torch measure {100 * noise:.1f}%')
    print(f'  FD of PyTorch\'s samples (eval_torch): {frechet(features(torch_samples), held):.3f}')


if __name__ == '__main__':
    main()
