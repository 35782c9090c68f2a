#!/usr/bin/env python3
"""Why plain DDIM (eta 0, no clipping) turns some samples into coloured noise (issue 11, item 2).

Follows x_t along the deterministic chain for N samples and compares it with what the forward process
says x_t must look like: for data x0 and eps ~ N(0, I), x_t = sqrt(abar) x0 + sqrt(1 - abar) eps, so
the per-image std of x_t is about sqrt(abar var(x0) + 1 - abar), and the predicted x0 must stay in
[-1, 1]. It splits the samples into those that end as noise (neighbour roughness above the 99.9th
percentile of real emoji, tools/eval_torch.py) and the rest, and plots, per step: the std of x_t
against the marginal's, the share of predicted-x0 pixels outside [-1, 1], and the eps error of the
model at that t on held-out images (||eps_theta(x_t, t) - eps||^2 per element).

  python3 tools/diagnose_ddim.py --weights public/models/emoji16.safetensors --steps 50 --n 384 --png docs/ddim-diagnosis.png
"""
import argparse
import json

import torch

from eval_torch import NoiseTest, load_model, neighbour_roughness, uniform_seq
from train_torch import load_emoji_split


def eps_of(model, x, t):
    """The model's eps for images x at timestep t, in chunks of 128."""
    return torch.cat([model(x[k:k + 128], torch.full((len(x[k:k + 128]),), float(t))) for k in range(0, len(x), 128)])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--weights', required=True)
    p.add_argument('--steps', type=int, default=50)
    p.add_argument('--n', type=int, default=384)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--png')
    p.add_argument('--json')
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    model, cfg, _, abar = load_model(args.weights)
    T, size = len(abar), cfg['resolution']
    train, held = load_emoji_split(size, 'train'), load_emoji_split(size, 'eval')
    data_var = float(train.var(dim=(1, 2, 3)).mean())
    seq = uniform_seq(args.steps, T)
    nxt = [-1] + seq[:-1]
    gen = torch.Generator().manual_seed(args.seed)
    x = torch.randn(args.n, 3, size, size, generator=gen)
    rows = []
    with torch.no_grad():
        for i, j in zip(reversed(seq), reversed(nxt)):
            at = abar[i]
            an = torch.tensor(1.0) if j < 0 else abar[j]
            e = eps_of(model, x, i)
            x0 = (x - e * (1 - at).sqrt()) / at.sqrt()
            rows.append({'t': i, 'xt_std': x.std(dim=(1, 2, 3)), 'x0_out': (x0.abs() > 1).float().mean(dim=(1, 2, 3)),
                         'marginal_std': float((at * data_var + 1 - at).sqrt())})
            x = an.sqrt() * x0 + (1 - an).sqrt() * e
        # The model's eps error at each t of the chain, on held-out images noised by the forward process.
        g2 = torch.Generator().manual_seed(1)
        eps_err = []
        for i in reversed(seq):
            noise = torch.randn(held.shape, generator=g2)
            xt = abar[i].sqrt() * held + (1 - abar[i]).sqrt() * noise
            e = eps_of(model, xt, i)
            eps_err.append(float((e - noise).square().mean()))
    noisy = neighbour_roughness(x.clamp(-1, 1)) > NoiseTest(train).limit
    share = float(noisy.float().mean())
    print(f'{args.weights}: {args.steps} DDIM steps (eta 0, no clipping), {args.n} samples, {100 * share:.1f}% end as noise')
    print('   t  marginal std  x_t std (clean / noise)  x0 outside [-1,1] (clean / noise)  eps MSE (held-out)')
    out = []
    for r, err in zip(rows, eps_err):
        c, z = ~noisy, noisy
        row = {'t': r['t'], 'marginal_std': r['marginal_std'],
               'xt_std_clean': float(r['xt_std'][c].mean()) if c.any() else None, 'xt_std_noise': float(r['xt_std'][z].mean()) if z.any() else None,
               'x0_out_clean': float(r['x0_out'][c].mean()) if c.any() else None, 'x0_out_noise': float(r['x0_out'][z].mean()) if z.any() else None,
               'eps_mse': err}
        out.append(row)
        fmt = lambda v: '   -  ' if v is None else f'{v:6.3f}'
        print(f"{row['t']:4d} {row['marginal_std']:10.3f}      {fmt(row['xt_std_clean'])} / {fmt(row['xt_std_noise'])}"
              f"          {fmt(row['x0_out_clean'])} / {fmt(row['x0_out_noise'])}            {err:.4f}")
    if args.json:
        json.dump({'weights': args.weights, 'steps': args.steps, 'n': args.n, 'noise_share': share, 'rows': out}, open(args.json, 'w'), indent=1)
    if args.png:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
        ts = [r['t'] for r in out]
        fig, axes = plt.subplots(1, 3, figsize=(13, 3.6), dpi=110)
        axes[0].plot(ts, [r['marginal_std'] for r in out], 'k--', label='forward process')
        axes[0].plot(ts, [r['xt_std_clean'] for r in out], label='samples that end clean')
        if noisy.any():
            axes[0].plot(ts, [r['xt_std_noise'] for r in out], label='samples that end as noise')
        axes[0].set_title('std of x_t per image')
        axes[1].plot(ts, [r['x0_out_clean'] for r in out], label='clean')
        if noisy.any():
            axes[1].plot(ts, [r['x0_out_noise'] for r in out], label='noise')
        axes[1].set_title('share of predicted-x0 pixels outside [-1, 1]')
        axes[2].plot(ts, [r['eps_mse'] for r in out])
        axes[2].set_yscale('log')
        axes[2].set_title('eps MSE on held-out images')
        for ax in axes:
            ax.set_xlabel('t (the chain runs right to left)')
            ax.invert_xaxis()
            ax.grid(alpha=0.3)
        axes[0].legend()
        axes[1].legend()
        fig.suptitle(f'{args.weights.split("/")[-1]}: plain DDIM, {args.steps} steps, {100 * share:.0f}% noise samples')
        fig.tight_layout()
        fig.savefig(args.png)


if __name__ == '__main__':
    main()
