#!/usr/bin/env python3
"""The Table-1 numbers of the shipped model, with PyTorch on the CPU (the same measure as `ddim eval`).

`ddim eval` computes these on the engine; on the build machines the engine runs on SwiftShader, where
the ~500k image-steps of a full table take days. This script runs the reference samplers
(ermongroup/ddim functions/denoising.py: generalized_steps with eta, ddpm_steps) in PyTorch and the
same measure as src/eval/frechet.ts: Fréchet distance between Gaussian fits of 8x8 average-pooled
pixels (192 features) of N samples (clamped to [-1, 1]) and of the held-out emoji, plus the RMS
distance of every sample to its nearest training image (memorisation shows as ~0). The engine's
samplers equal these to the README tolerances (tests/gpu/sampler.test.ts on the PyTorch goldens).

  python3 tools/eval_torch.py --weights public/models/emoji16.safetensors --n 384 --grid docs/samples.png
"""
import argparse
import json
import time

import numpy as np
import torch
from PIL import Image

from train_torch import UNet, alpha_bars, load_emoji_split, read_safetensors


def uniform_seq(steps, T):
    return list(range(0, T, T // steps))


def sample(model, abar, seq, xT, kind, eta, gen, clip=False):
    x = xT
    nxt = [-1] + seq[:-1]
    ab = lambda t: torch.tensor(1.0) if t < 0 else abar[t]
    with torch.no_grad():
        for i, j in zip(reversed(seq), reversed(nxt)):
            at, an = ab(i), ab(j)
            t = torch.full((x.shape[0],), float(i))
            e = model(x, t)
            noise = torch.randn(x.shape, generator=gen)
            if kind == 'generalized':
                x0 = (x - e * (1 - at).sqrt()) / at.sqrt()
                if clip:  # diffusers' clip_sample: the update uses the clipped x0, eps as predicted
                    x0 = x0.clamp(-1, 1)
                c1 = eta * ((1 - at / an) * (1 - an) / (1 - at)).sqrt()
                c2 = ((1 - an) - c1 ** 2).sqrt()
                x = an.sqrt() * x0 + c1 * noise + c2 * e
            else:  # ddpm_noisy: ancestral, x0 clipped, variance beta_t
                beta = 1 - at / an
                x0 = ((1 / at).sqrt() * x - (1 / at - 1).sqrt() * e).clamp(-1, 1)
                mean = (an.sqrt() * beta * x0 + (1 - beta).sqrt() * (1 - an) * x) / (1 - at)
                x = mean + (0.0 if i == 0 else beta.sqrt()) * noise
    return x.clamp(-1, 1)


def features(x):
    s = x.shape[-1]
    return torch.nn.functional.avg_pool2d(x, s // 8).reshape(x.shape[0], -1).double().numpy()


def frechet(f1, f2):
    m1, m2 = f1.mean(0), f2.mean(0)
    c1, c2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    w, v = np.linalg.eigh(c1)
    r = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    inner = r @ c2 @ r
    ev = np.linalg.eigvalsh((inner + inner.T) / 2)
    return float(((m1 - m2) ** 2).sum() + np.trace(c1) + np.trace(c2) - 2 * np.sqrt(np.clip(ev, 0, None)).sum())


def load_model(path):
    """A reference-layout weights file as an eval-mode UNet, with its config and alpha-bar."""
    w, meta = read_safetensors(path)
    cfg = json.loads(meta['model'])
    model = UNet(cfg)
    model.load_state_dict(w, strict=True)
    model.eval()
    return model, cfg, meta, alpha_bars(json.loads(meta['diffusion']))


def neighbour_roughness(x):
    """Mean absolute difference between horizontally and vertically neighbouring pixels, per image."""
    dx = (x[..., :, 1:] - x[..., :, :-1]).abs().mean(dim=(1, 2, 3))
    dy = (x[..., 1:, :] - x[..., :-1, :]).abs().mean(dim=(1, 2, 3))
    return (dx + dy) / 2


class NoiseTest:
    """A sample is noise when its neighbour roughness exceeds the 99.9th percentile of real emoji (issue 11's
    definition); `share` is the fraction of such samples."""

    def __init__(self, real):
        self.limit = float(torch.quantile(neighbour_roughness(real), 0.999))

    def share(self, x):
        return float((neighbour_roughness(x.clamp(-1, 1)) > self.limit).float().mean())


def run_sampler(model, abar, steps, kind, eta, n, size, seed=0, clip=False):
    """n samples from the noise of `seed`, in chunks of 128 (the chunks draw from one generator in order)."""
    gen = torch.Generator().manual_seed(seed)
    xT = torch.randn(n, 3, size, size, generator=gen)
    return torch.cat([sample(model, abar, uniform_seq(steps, len(abar)), xT[i:i + 128], kind, eta, gen, clip) for i in range(0, n, 128)])


def nearest_rms(x, train):
    a, b = x.reshape(x.shape[0], -1), train.reshape(train.shape[0], -1)
    d = torch.cdist(a, b) / np.sqrt(a.shape[1])
    return d.min(dim=1).values


def save_grid(x, path, cols):
    n, c, s, _ = x.shape
    rows = (n + cols - 1) // cols
    img = np.full((rows * (s + 1) + 1, cols * (s + 1) + 1, 3), 255, np.uint8)
    px = ((x.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()
    for k in range(n):
        r, q = divmod(k, cols)
        img[1 + r * (s + 1):1 + r * (s + 1) + s, 1 + q * (s + 1):1 + q * (s + 1) + s] = px[k]
    Image.fromarray(img).resize((img.shape[1] * 4, img.shape[0] * 4), Image.NEAREST).save(path)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--weights', required=True)
    p.add_argument('--n', type=int, default=384)
    p.add_argument('--steps', default='10,20,50,100')
    p.add_argument('--clip-steps', default='10,50', help='also DDIM eta 0 with x0 clipped (the app\'s Clip x0) at these step counts')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--grid', help='also write a 10x10 grid PNG of 50-step DDIM samples (eta 0) here')
    p.add_argument('--grid-clip', action='store_true', help='the grid with x0 clipped')
    p.add_argument('--json', help='write the table as JSON here')
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    model, cfg, meta, abar = load_model(args.weights)
    size = cfg['resolution']
    held, train = load_emoji_split(size, 'eval'), load_emoji_split(size, 'train')
    ref = features(held)
    noise_fd = frechet(features(torch.randn(args.n, 3, size, size, generator=torch.Generator().manual_seed(99)).clamp(-1, 1)), ref)
    # N training images spread over the whole set (emoji.json is ordered by category).
    train_fd = frechet(features(train[torch.linspace(0, len(train) - 1, args.n).long()]), ref)
    print(f'{args.weights}: step {json.loads(meta.get("trainer", "{}")).get("step", "?")}; FD of 8x8 pooled pixels, {args.n} samples vs {len(held)} held-out; '
          f'NN-RMS to {len(train)} training images. (Clamped Gaussian noise scores FD {noise_fd:.2f}; {args.n} training images {train_fd:.2f}.)')
    noise_test = NoiseTest(train)
    print('sampler          steps       FD   noise  NN-RMS mean  NN-RMS min   seconds')
    rows = []
    for steps in [int(s) for s in args.steps.split(',')]:
        settings = [('ddim eta=0', 'generalized', 0.0, False), ('ddim eta=1', 'generalized', 1.0, False), ('ddpm_noisy', 'ddpm', 1.0, False)]
        if str(steps) in args.clip_steps.split(','):
            settings.append(('ddim eta=0 clip', 'generalized', 0.0, True))
        for name, kind, eta, clip in settings:
            t0 = time.time()
            x = run_sampler(model, abar, steps, kind, eta, args.n, size, args.seed, clip)
            fd, nn, share = frechet(features(x), ref), nearest_rms(x, train), noise_test.share(x)
            rows.append({'sampler': name, 'steps': steps, 'seconds': time.time() - t0, 'fd': fd, 'noise_share': share, 'nn_mean': nn.mean().item(), 'nn_min': nn.min().item()})
            print(f'{name:15s} {steps:6d} {fd:8.3f} {share:7.3f} {nn.mean().item():12.4f} {nn.min().item():11.4f} {time.time() - t0:9.0f}', flush=True)
            if args.grid and kind == 'generalized' and eta == 0 and steps == 50 and clip == args.grid_clip:
                save_grid(x[:100], args.grid, 10)
    if args.json:
        json.dump({'n': args.n, 'noise_fd': noise_fd, 'train_fd': train_fd, 'rows': rows}, open(args.json, 'w'), indent=1)


if __name__ == '__main__':
    main()
