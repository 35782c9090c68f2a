#!/usr/bin/env python3
"""The numbers of the README's Answers (H1-H4): the seed question's hypotheses measured with PyTorch on
the CPU, on the bundled 16 px emoji, for the bundled time-conditioned model, the layered models of
bench/answers.sh, and the ideal denoiser (the exact posterior mean E[x0 | x_t] under the training
images, as src/engine/ideal.ts computes it on the GPU).

Every model runs the same chain, the layered models' seq = 0, 100, ..., 900 walked down with
x_j = sqrt(abar_j / abar_i) x_i + (sqrt(1 - abar_j) - sqrt(1 - abar_i) sqrt(abar_j / abar_i)) eps_i(x_i),
ending at t = 0 (research/experiments.ts does the same on the engine). The measures:
  FD         Frechet distance of 8x8-pooled pixels against the 378 held-out emoji (tools/eval_torch.py),
             with the floor (n training images) and the ceiling (n clamped Gaussian noises) at the same n;
  MSE        per value against the clean image (denoising from a noised held-out image);
  roughness  mean |difference| of neighbouring pixels, relative to the held-out images' (1: as sharp as
             real emoji; below: blurred; above: noisy);
  spread     per-value standard deviation across samples (real emoji about 0.5; 0 when every sample is
             the same image).
Writes OUT/answers.json (read by the Research tab) and OUT/samples.png.

  /usr/bin/python3 tools/answers_torch.py --runs /work/runs        (writes public/answers/)
"""
import argparse
import json
import math
import os
import time

import numpy as np
import torch

from eval_torch import features, frechet, load_model, neighbour_roughness, nearest_rms, save_grid
from train_torch import ROOT, alpha_bars, load_emoji_split, read_safetensors
from train_layered_torch import Layered

SEQ = list(range(0, 1000, 100))


class TimeChain:
    """A time-conditioned UNet on the layered chain's timesteps."""

    def __init__(self, path):
        self.model, self.cfg, _, self.abar = load_model(path)
        self.abar = self.abar.double()
        self.parameters = sum(p.numel() for p in self.model.parameters())

    def eps(self, x, t):
        return self.model(x, torch.full((x.shape[0],), float(t)))


class LayeredChain:
    """A layered model (its EMA weights) on its own chain."""

    def __init__(self, path):
        w, meta = read_safetensors(path)
        self.lay = Layered({k: json.loads(meta[k]) for k in ('model', 'ch_num', 'diffusion')})
        self.lay.load_state_dict(w)
        for m in self.lay.models.values():
            m.eval()
        self.abar = self.lay.abar
        self.parameters = sum(p.numel() for _, m in self.lay.trained() for p in m.parameters())
        self.trainer = json.loads(meta.get('trainer', '{}'))

    def eps(self, x, t):
        return self.lay.models[str(t)](x)


class IdealChain:
    """The exact posterior mean under the training images (float64), as engine/ideal.ts."""

    def __init__(self, data, abar):
        self.data = data.reshape(len(data), -1).double()
        self.abar = abar
        self.parameters = 0

    def x0(self, x, t):
        a = self.abar[t].item()
        d = torch.cdist(x.reshape(len(x), -1).double(), math.sqrt(a) * self.data) ** 2
        w = torch.softmax(-d / (2 * (1 - a)), dim=1)
        return (w @ self.data).float().reshape(x.shape)

    def eps(self, x, t):
        a = self.abar[t].item()
        return (x - math.sqrt(a) * self.x0(x, t)) / math.sqrt(1 - a)


def chain(model, x, t, batch=128):
    """The chain from x at t (in SEQ) down to t = 0: (final x, the x0 its first step predicts)."""
    finals, firsts = [], []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            y, first = x[i:i + batch], None
            for k in range(SEQ.index(t), 0, -1):
                ti, tj = SEQ[k], SEQ[k - 1]
                ai, aj = model.abar[ti].item(), model.abar[tj].item()
                e = model.eps(y, ti)
                if first is None:
                    first = (y - math.sqrt(1 - ai) * e) / math.sqrt(ai)
                a = math.sqrt(aj / ai)
                y = a * y + (math.sqrt(1 - aj) - math.sqrt(1 - ai) * a) * e
            finals.append(y)
            firsts.append(first)
    return torch.cat(finals).clamp(-1, 1), torch.cat(firsts).clamp(-1, 1)


class Scores:
    def __init__(self, held, train):
        self.ref = features(held)
        self.real_rough = neighbour_roughness(held).mean().item()
        self.train = train
        self.held = held

    def fd(self, x):
        return frechet(features(x), self.ref)

    def rough(self, x):
        return neighbour_roughness(x).mean().item() / self.real_rough

    def floors(self, n, seed):
        """FD of n training images (spread over the set) and of n clamped noises: what a perfect and a useless set score at this n."""
        g = torch.Generator().manual_seed(1000 + seed)
        real = self.train[torch.randperm(len(self.train), generator=g)[:n]]
        noise = torch.randn(n, *self.held.shape[1:], generator=g).clamp(-1, 1)
        return self.fd(real), self.fd(noise)


def mean_sd(values):
    v = np.array(values, dtype=np.float64)
    return {'mean': float(v.mean()), 'sd': float(v.std(ddof=1)) if len(v) > 1 else 0.0, 'values': [float(x) for x in v]}


def h1_denoising(models, scores, seeds):
    """One-shot x0 and the chain from x_t, per t, on the held-out images noised with each seed's noise."""
    held = scores.held
    rows = []
    for t in SEQ[1:]:
        for name, m in models.items():
            per = {k: [] for k in ('oneshot_mse', 'chain_mse', 'oneshot_fd', 'chain_fd', 'oneshot_rough', 'chain_rough')}
            for s in seeds:
                noise = torch.randn(held.shape, generator=torch.Generator().manual_seed(s))
                a = m.abar[t].item()
                xt = math.sqrt(a) * held + math.sqrt(1 - a) * noise
                final, one = chain(m, xt, t)
                per['oneshot_mse'].append(((one - held) ** 2).mean().item())
                per['chain_mse'].append(((final - held) ** 2).mean().item())
                per['oneshot_fd'].append(scores.fd(one))
                per['chain_fd'].append(scores.fd(final))
                per['oneshot_rough'].append(scores.rough(one))
                per['chain_rough'].append(scores.rough(final))
            rows.append({'t': t, 'model': name, **{k: mean_sd(v) for k, v in per.items()}})
            print(f'H1 t={t} {name}: one-shot MSE {rows[-1]["oneshot_mse"]["mean"]:.4f} FD {rows[-1]["oneshot_fd"]["mean"]:.1f}, '
                  f'chain MSE {rows[-1]["chain_mse"]["mean"]:.4f} FD {rows[-1]["chain_fd"]["mean"]:.1f}', flush=True)
    return rows


def h2_generation(models, scores, n, seeds, size):
    """From pure noise: FD of the first step's x0 and of the final sample, spread, roughness, nearest training image."""
    rows, grids = [], {}
    for name, m in models.items():
        per = {k: [] for k in ('first_fd', 'final_fd', 'first_rough', 'final_rough', 'final_spread', 'first_spread', 'nn_rms')}
        for s in seeds:
            xT = torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(s))
            final, first = chain(m, xT, SEQ[-1])
            per['first_fd'].append(scores.fd(first))
            per['final_fd'].append(scores.fd(final))
            per['first_rough'].append(scores.rough(first))
            per['final_rough'].append(scores.rough(final))
            per['final_spread'].append(final.std(dim=0).mean().item())
            per['first_spread'].append(first.std(dim=0).mean().item())
            per['nn_rms'].append(nearest_rms(final, scores.train).mean().item())
            if s == seeds[0]:
                grids[name] = (first[:12], final[:12])
        rows.append({'model': name, 'parameters': m.parameters, **{k: mean_sd(v) for k, v in per.items()}})
        r = rows[-1]
        print(f'H2 {name}: FD first {r["first_fd"]["mean"]:.2f} final {r["final_fd"]["mean"]:.2f} (sd {r["final_fd"]["sd"]:.2f}), '
              f'spread {r["final_spread"]["mean"]:.3f}, rough {r["final_rough"]["mean"]:.2f}, NN-RMS {r["nn_rms"]["mean"]:.3f}', flush=True)
    floors = [scores.floors(n, s) for s in seeds]
    return rows, {'n': n, 'real': mean_sd([f[0] for f in floors]), 'noise': mean_sd([f[1] for f in floors]),
                  'real_spread': scores.held.std(dim=0).mean().item()}, grids


def curves(runs):
    out = {}
    for name in sorted(os.listdir(runs)):
        path = os.path.join(runs, name, 'curve.csv')
        if os.path.isdir(os.path.join(runs, name)) and os.path.exists(path):
            lines = open(path).read().split()
            head = lines[0].split(',')
            out[name] = [dict(zip(head, map(float, l.split(',')))) for l in lines[1:]]
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--runs', default='/work/runs', help='bench/answers.sh\'s run folders (checkpoints and curves)')
    p.add_argument('--out', default=os.path.join(ROOT, 'public/answers'), help='where the Research tab reads them')
    p.add_argument('--n', type=int, default=384)
    p.add_argument('--seeds', type=int, default=3)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--skip-h1', action='store_true')
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    t0 = time.time()
    held, train = load_emoji_split(16, 'eval'), load_emoji_split(16, 'train')
    scores = Scores(held, train)
    time_model = TimeChain(os.path.join(ROOT, 'public/models/emoji16.safetensors'))
    models = {'time-conditioned (bundled)': time_model}
    # The layered runs, exported to a safetensors file each (their EMA weights).
    for name in ['layer', 'end2end', 'e2e_correction', 'e2e_teacher', 'e2e_gtA', 'e2e_gtB', 'e2e_ch8', 'layer_ch8', 'e2e_globalclip']:
        if os.path.exists(os.path.join(args.runs, name, 'checkpoint.pt')):
            path = os.path.join(args.runs, name, 'ema.safetensors')
            os.system(f'/usr/bin/python3 {os.path.join(ROOT, "tools/train_layered_torch.py")} --run-dir {os.path.join(args.runs, name)} --export {path} > /dev/null')
            models[name] = LayeredChain(path)
    models['ideal'] = IdealChain(train, time_model.abar)
    seeds = list(range(args.seeds))
    h2, floors, grids = h2_generation(models, scores, args.n, seeds, 16)
    denoisers = {k: models[k] for k in ['time-conditioned (bundled)', 'layer', 'end2end', 'e2e_ch8', 'layer_ch8', 'ideal'] if k in models}
    h1 = [] if args.skip_h1 else h1_denoising(denoisers, scores, seeds[:2])
    # Rows of first-step x0 and final samples per model (the same noises).
    names = list(grids)
    rows = torch.cat([torch.cat(grids[k]) for k in names])
    save_grid(rows, os.path.join(args.out, 'samples.png'), 12)
    result = {
        'measured': time.strftime('%Y-%m-%d'), 'seconds': round(time.time() - t0),
        'chain': SEQ, 'held_out': len(held), 'training_images': len(train),
        'models': {k: {'parameters': m.parameters, **({'trainer': m.trainer} if isinstance(m, LayeredChain) else {})} for k, m in models.items()},
        'h2': {'rows': h2, 'floors': floors, 'grid_rows': [f'{k}: first-step x0, then final samples' for k in names]},
        # The mean training image scored against the held-out ones: the MSE of a denoiser that ignores its input.
        'h1': {'rows': h1, 'n': len(held), 'seeds': seeds[:2], 'floor_real_fd': scores.floors(len(held), 0)[0],
               'mean_image_mse': ((train.mean(dim=0, keepdim=True) - held) ** 2).mean().item()},
        'curves': curves(args.runs),
    }
    json.dump(result, open(os.path.join(args.out, 'answers.json'), 'w'), indent=1)
    print(f'wrote {args.out}/answers.json and samples.png in {time.time() - t0:.0f} s')


if __name__ == '__main__':
    main()
