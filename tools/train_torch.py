#!/usr/bin/env python3
"""Trains the app's default model with PyTorch on the CPU, using the recipe of `ddim train`.

Why this exists: WebGPU on the build machines is SwiftShader (a few GFLOP/s), far too slow to train
the shipped model with the project's own trainer. This script implements the same recipe -- the
DDPM/DDIM UNet of the reference (same state_dict names and shapes), the linear beta schedule, the
loss mean_b sum_chw (noise - eps(x_t, t))^2, Adam with global-norm clipping, EMA, random flips,
linear learning-rate warmup -- and writes the EMA weights in the reference safetensors layout, which
the app and the CLI load through the same path users' PyTorch weights take.

The run lives in --run-dir (checkpoint.pt, loss.csv, model.safetensors) and resumes from it, so one
run can continue across sessions. Needs Debian's python3-torch (apt-get install -y python3-torch).

  python3 tools/train_torch.py --run-dir /work/runs/emoji16 --steps 20000
  python3 tools/train_torch.py --run-dir /work/runs/emoji16 --export public/models/emoji16.safetensors
"""
import argparse
import gzip
import json
import math
import os
import struct
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# ---------------------------------------------------------------- the reference UNet (models/diffusion.py)


def timestep_embedding(t, dim):
    half = dim // 2
    freq = torch.exp(torch.arange(half, dtype=torch.float32, device=t.device) * -(math.log(10000) / (half - 1)))
    arg = t.float()[:, None] * freq[None, :]
    emb = torch.cat([torch.sin(arg), torch.cos(arg)], dim=1)
    return F.pad(emb, (0, 1)) if dim % 2 else emb


def norm(c, groups=32):
    """GroupNorm of the reference (32 groups), or the layered sub-models' "auto" groups: 16 when C is a
    multiple of 16, else 8 when a multiple of 8, else one channel per group (src/nn/config.ts)."""
    if groups == 'auto':
        groups = 16 if c % 16 == 0 else 8 if c % 8 == 0 else c
    return nn.GroupNorm(groups, c, eps=1e-6, affine=True)


class Upsample(nn.Module):
    def __init__(self, c, with_conv):
        super().__init__()
        self.with_conv = with_conv
        if with_conv:
            self.conv = nn.Conv2d(c, c, 3, 1, 1)

    def forward(self, x):
        x = F.interpolate(x, scale_factor=2.0, mode='nearest')
        return self.conv(x) if self.with_conv else x


class Downsample(nn.Module):
    def __init__(self, c, with_conv):
        super().__init__()
        self.with_conv = with_conv
        if with_conv:
            self.conv = nn.Conv2d(c, c, 3, 2, 0)

    def forward(self, x):
        if self.with_conv:
            return self.conv(F.pad(x, (0, 1, 0, 1)))
        return F.avg_pool2d(x, 2, 2)


class ResnetBlock(nn.Module):
    """temb_ch 0: time-free (the layered sub-models), no temb_proj."""

    def __init__(self, cin, cout, temb_ch, dropout, groups=32):
        super().__init__()
        self.norm1 = norm(cin, groups)
        self.conv1 = nn.Conv2d(cin, cout, 3, 1, 1)
        if temb_ch:
            self.temb_proj = nn.Linear(temb_ch, cout)
        self.norm2 = norm(cout, groups)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1)
        if cin != cout:
            self.nin_shortcut = nn.Conv2d(cin, cout, 1, 1, 0)
        self.cin, self.cout = cin, cout

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x)))
        if temb is not None:
            h = h + self.temb_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        if self.cin != self.cout:
            x = self.nin_shortcut(x)
        return x + h


class AttnBlock(nn.Module):
    def __init__(self, c, groups=32):
        super().__init__()
        self.norm = norm(c, groups)
        self.q = nn.Conv2d(c, c, 1)
        self.k = nn.Conv2d(c, c, 1)
        self.v = nn.Conv2d(c, c, 1)
        self.proj_out = nn.Conv2d(c, c, 1)

    def forward(self, x):
        h = self.norm(x)
        b, c, hh, ww = x.shape
        q = self.q(h).reshape(b, c, hh * ww).permute(0, 2, 1)
        k = self.k(h).reshape(b, c, hh * ww)
        v = self.v(h).reshape(b, c, hh * ww)
        w = torch.softmax(torch.bmm(q, k) * (c ** -0.5), dim=2)
        h = torch.bmm(v, w.permute(0, 2, 1)).reshape(b, c, hh, ww)
        return x + self.proj_out(h)


class UNet(nn.Module):
    """The reference UNet; with use_time_embed false and norm_groups "auto", the layered model's
    time-free sub-model (../shared/reference/unet-layered.safetensors)."""

    def __init__(self, cfg):
        super().__init__()
        ch, ch_mult = cfg['ch'], tuple(cfg['ch_mult'])
        self.use_time = cfg.get('use_time_embed', True)
        self.ch, self.temb_ch = ch, ch * 4 if self.use_time else 0
        self.levels, self.nblocks = len(ch_mult), cfg['num_res_blocks']
        dropout, conv = cfg.get('dropout', 0.0), cfg.get('resamp_with_conv', True)
        g = cfg.get('norm_groups', 32)
        g = g if g == 'auto' else int(g)
        if self.use_time:
            self.temb = nn.Module()
            self.temb.dense = nn.ModuleList([nn.Linear(ch, self.temb_ch), nn.Linear(self.temb_ch, self.temb_ch)])
        self.conv_in = nn.Conv2d(cfg['in_channels'], ch, 3, 1, 1)
        res, in_mult = cfg['resolution'], (1,) + ch_mult
        self.down = nn.ModuleList()
        for i in range(self.levels):
            level, cin, cout = nn.Module(), ch * in_mult[i], ch * ch_mult[i]
            level.block, level.attn = nn.ModuleList(), nn.ModuleList()
            for _ in range(self.nblocks):
                level.block.append(ResnetBlock(cin, cout, self.temb_ch, dropout, g))
                cin = cout
                if res in cfg['attn_resolutions']:
                    level.attn.append(AttnBlock(cin, g))
            if i != self.levels - 1:
                level.downsample = Downsample(cin, conv)
                res //= 2
            self.down.append(level)
        self.mid = nn.Module()
        self.mid.block_1 = ResnetBlock(cin, cin, self.temb_ch, dropout, g)
        self.mid.attn_1 = AttnBlock(cin, g)
        self.mid.block_2 = ResnetBlock(cin, cin, self.temb_ch, dropout, g)
        ups = []
        for i in reversed(range(self.levels)):
            level, cout = nn.Module(), ch * ch_mult[i]
            level.block, level.attn = nn.ModuleList(), nn.ModuleList()
            for b in range(self.nblocks + 1):
                skip = ch * (in_mult[i] if b == self.nblocks else ch_mult[i])
                level.block.append(ResnetBlock(cin + skip, cout, self.temb_ch, dropout, g))
                cin = cout
                if res in cfg['attn_resolutions']:
                    level.attn.append(AttnBlock(cin, g))
            if i != 0:
                level.upsample = Upsample(cin, conv)
                res *= 2
            ups.insert(0, level)
        self.up = nn.ModuleList(ups)
        self.norm_out = norm(cin, g)
        self.conv_out = nn.Conv2d(cin, cfg['out_ch'], 3, 1, 1)

    def forward(self, x, t=None):
        temb = self.temb.dense[1](F.silu(self.temb.dense[0](timestep_embedding(t, self.ch)))) if self.use_time else None
        hs = [self.conv_in(x)]
        for i, level in enumerate(self.down):
            for b in range(self.nblocks):
                h = level.block[b](hs[-1], temb)
                if len(level.attn):
                    h = level.attn[b](h)
                hs.append(h)
            if i != self.levels - 1:
                hs.append(level.downsample(hs[-1]))
        h = self.mid.block_2(self.mid.attn_1(self.mid.block_1(hs[-1], temb)), temb)
        for i in reversed(range(self.levels)):
            level = self.up[i]
            for b in range(self.nblocks + 1):
                h = level.block[b](torch.cat([h, hs.pop()], dim=1), temb)
                if len(level.attn):
                    h = level.attn[b](h)
            if i != 0:
                h = level.upsample(h)
        return self.conv_out(F.silu(self.norm_out(h)))

# ---------------------------------------------------------------- safetensors (reference layout)


def read_safetensors(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop('__metadata__', {})
    dtypes = {'F32': np.float32, 'F16': np.float16}
    out = {}
    for name, info in header.items():
        a, b = info['data_offsets']
        out[name] = torch.from_numpy(np.frombuffer(data[a:b], dtype=dtypes[info['dtype']]).astype(np.float32).reshape(info['shape']).copy())
    return out, meta


def write_safetensors(path, tensors, meta, dtype='F32'):
    np_dtype = {'F32': np.float32, 'F16': np.float16}[dtype]
    header, blobs, offset = {'__metadata__': meta}, [], 0
    for name, t in tensors.items():
        raw = t.detach().cpu().numpy().astype(np_dtype).tobytes()
        header[name] = {'dtype': dtype, 'shape': list(t.shape), 'data_offsets': [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    head = json.dumps(header, separators=(',', ':')).encode()
    head += b' ' * (-len(head) % 8)
    tmp = path + '.tmp'
    with open(tmp, 'wb') as f:
        f.write(struct.pack('<Q', len(head)) + head + b''.join(blobs))
    os.replace(tmp, path)

# ---------------------------------------------------------------- data and schedule


def load_emoji_split(size, split):
    """The bundled emoji (public/data) of one split ('train' or 'eval', every 10th image), in [-1, 1]."""
    index = json.load(open(os.path.join(ROOT, 'public/data/emoji.json')))
    raw = np.frombuffer(gzip.open(os.path.join(ROOT, f'public/data/emoji{size}.gz.bin')).read(), dtype=np.uint8)
    images = raw.reshape(index['count'], 3, size, size)
    keep = [i for i, it in enumerate(index['items']) if it['split'] == split]
    return torch.from_numpy(images[keep].astype(np.float32) / 127.5 - 1)


def betas_of(diffusion):
    """The beta schedules this script trains with: the reference's linear one, and the cosine one of
    Nichol & Dhariwal (2021), abar(t) = f(t)/f(0) with f(t) = cos(((t/T + s)/(1 + s)) pi/2)^2, s = 0.008,
    beta_t = min(1 - abar(t+1)/abar(t), 0.999) (src/diffusion/schedule.ts computes the same in float64)."""
    T = diffusion['num_diffusion_timesteps']
    if diffusion['beta_schedule'] == 'linear':
        return np.linspace(diffusion['beta_start'], diffusion['beta_end'], T, dtype=np.float64)
    if diffusion['beta_schedule'] == 'cosine':
        f = lambda t: np.cos((t / T + 0.008) / 1.008 * np.pi / 2) ** 2
        i = np.arange(T, dtype=np.float64)
        return np.minimum(1 - f(i + 1) / f(i), 0.999)
    raise ValueError(f'this script trains with the linear or cosine schedule, not {diffusion["beta_schedule"]!r}')


def alpha_bars(diffusion):
    return torch.from_numpy(np.cumprod(1 - betas_of(diffusion))).float()


def loss_weights(abar, recipe):
    """Per-timestep weight of the loss: 1, or min-SNR-gamma (Hang et al. 2023) for the eps
    parameterisation, min(SNR_t, gamma) / SNR_t with SNR_t = abar_t / (1 - abar_t)."""
    if recipe.get('loss_weight', 'none') == 'none':
        return torch.ones_like(abar)
    snr = abar.double() / (1 - abar.double())
    return (torch.clamp(snr, max=recipe['snr_gamma']) / snr).float()


def learning_rate(recipe, step):
    """lr at 0-based step: linear warmup over `warmup` steps, then constant or cosine decay to
    lr * lr_min over `decay_steps` (counted from step 0)."""
    lr = recipe['lr']
    if recipe['warmup'] and step < recipe['warmup']:
        return lr * (step + 1) / recipe['warmup']
    if recipe.get('lr_decay', 'none') == 'cosine':
        k = min(1.0, step / recipe['decay_steps'])
        lo = lr * recipe['lr_min']
        return lo + (lr - lo) * 0.5 * (1 + math.cos(math.pi * k))
    return lr


def ema_rate(recipe, step):
    """EMA decay after `step` updates: fixed, or with warmup min(ema, (1 + n) / (10 + n)) so that the
    random initial weights do not dominate the average of a short run."""
    if recipe.get('ema_warmup'):
        return min(recipe['ema'], (1 + step) / (10 + step))
    return recipe['ema']

LINEAR = {'beta_schedule': 'linear', 'beta_start': 0.0001, 'beta_end': 0.02, 'num_diffusion_timesteps': 1000}


class Curve:
    """FD against image-gradient evaluations, appended to RUN/curve.csv (one row per measured step, so a
    resumed run continues the file): DDIM eta 1 at 20 steps always; plain DDIM (eta 0, no clipping) at
    20 and 50 steps with its share of noise samples when asked. Same measure as tools/eval_torch.py."""

    def __init__(self, args, abar, size):
        from eval_torch import NoiseTest, features
        self.path, self.n, self.abar = os.path.join(args.run_dir, 'curve.csv'), args.eval_n, abar
        self.ref = features(load_emoji_split(size, 'eval'))
        self.noise = NoiseTest(load_emoji_split(size, 'train'))
        self.size = size
        self.done = set()
        if os.path.exists(self.path):
            self.done = {int(r.split(',')[0]) for r in open(self.path).read().splitlines()[1:] if r}
        else:
            open(self.path, 'w').write('step,evals,fd_eta1_20,fd_ddim_20,noise_ddim_20,fd_ddim_50,noise_ddim_50,seconds\n')

    def has(self, step):
        return step in self.done

    def measure(self, ema, step, evals, plain):
        from eval_torch import run_sampler, frechet, features
        t0 = time.time()
        ema.eval()
        cells = [f'{frechet(features(run_sampler(ema, self.abar, 20, "generalized", 1.0, self.n, self.size)), self.ref):.4f}']
        for steps in (20, 50):
            if plain:
                x = run_sampler(ema, self.abar, steps, 'generalized', 0.0, self.n, self.size)
                cells += [f'{frechet(features(x), self.ref):.4f}', f'{self.noise.share(x):.4f}']
            else:
                cells += ['', '']
        ema.train()
        open(self.path, 'a').write(f'{step},{evals},{",".join(cells)},{time.time() - t0:.0f}\n')
        self.done.add(step)
        print(f'step {step} ({evals} evaluations): FD eta1/20 {cells[0]}' + (f', ddim/20 {cells[1]} ({cells[2]} noise), ddim/50 {cells[3]} ({cells[4]} noise)' if plain else ''), flush=True)

# ---------------------------------------------------------------- the run

def restore(state, model, ema, opt):
    """A run's state from its checkpoint (weights, EMA, optimizer, RNG), or a new run's (the EMA starts
    as the weights); returns the step it resumes at. model and ema: anything with state_dict/load_state_dict."""
    if not state:
        ema.load_state_dict(model.state_dict())
        return 0
    model.load_state_dict(state['model'])
    ema.load_state_dict(state['ema'])
    opt.load_state_dict(state['optimizer'])
    torch.set_rng_state(state['rng'])
    return state['step']


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--run-dir', required=True)
    p.add_argument('--config', default=json.dumps({'ch': 32, 'out_ch': 3, 'ch_mult': [1, 2, 2], 'num_res_blocks': 1, 'attn_resolutions': [8], 'dropout': 0.0, 'in_channels': 3, 'resolution': 16, 'resamp_with_conv': True}))
    p.add_argument('--steps', type=int, default=20000, help='train until this step')
    # Defaults: the recipe the search picked (bench/recipes.sh, docs/recipes), as src/train/recipe.ts.
    p.add_argument('--batch', type=int, default=32)
    p.add_argument('--lr', type=float, default=2e-3)
    p.add_argument('--warmup', type=int, default=200)
    p.add_argument('--lr-decay', choices=['none', 'cosine'], default='cosine')
    p.add_argument('--decay-steps', type=int, default=0, help='cosine decay horizon (default: --steps)')
    p.add_argument('--lr-min', type=float, default=0.1, help='cosine decay floor as a fraction of --lr')
    p.add_argument('--ema', type=float, default=0.999)
    p.add_argument('--ema-warmup', action=argparse.BooleanOptionalAction, default=True)
    p.add_argument('--loss-weight', choices=['none', 'min_snr'], default='min_snr')
    p.add_argument('--snr-gamma', type=float, default=5.0)
    p.add_argument('--beta-schedule', choices=['linear', 'cosine'], default='linear')
    p.add_argument('--eval-every', type=int, default=0, help='FD of the EMA weights every N steps into curve.csv (tools/eval_torch.py measure)')
    p.add_argument('--eval-plain-every', type=int, default=0, help='also plain DDIM (eta 0) at 20 and 50 steps every N steps')
    p.add_argument('--eval-n', type=int, default=384)
    p.add_argument('--grad-clip', type=float, default=1.0)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--save-every', type=int, default=250)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--export', help='write the EMA weights (F16) of the run to this path and exit')
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    os.makedirs(args.run_dir, exist_ok=True)
    ckpt_path = os.path.join(args.run_dir, 'checkpoint.pt')
    if os.path.exists(ckpt_path):
        state = torch.load(ckpt_path)
        cfg, recipe, diffusion = state['config'], state['recipe'], state.get('diffusion', LINEAR)
        print(f'resuming {ckpt_path} at step {state["step"]}', flush=True)
    else:
        state, cfg = None, json.loads(args.config)
        diffusion = LINEAR if args.beta_schedule == 'linear' else {'beta_schedule': 'cosine', 'num_diffusion_timesteps': 1000}
        recipe = {'batch': args.batch, 'lr': args.lr, 'warmup': args.warmup, 'lr_decay': args.lr_decay,
                  'decay_steps': args.decay_steps or args.steps, 'lr_min': args.lr_min, 'ema': args.ema, 'ema_warmup': args.ema_warmup,
                  'loss_weight': args.loss_weight, 'snr_gamma': args.snr_gamma, 'grad_clip': args.grad_clip, 'seed': args.seed, 'flip': True}
    torch.manual_seed(recipe['seed'])
    model = UNet(cfg)
    ema = UNet(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=recipe['lr'], betas=(0.9, 0.999), eps=1e-8)
    step = restore(state, model, ema, opt)
    meta = {
        'format': 'ddim-unet', 'model': json.dumps(cfg), 'diffusion': json.dumps(diffusion),
        'trainer': json.dumps({**recipe, 'tool': 'tools/train_torch.py', 'data': 'emoji16/train', 'step': step}),
    }
    if args.export:
        write_safetensors(args.export, ema.state_dict(), meta, 'F16')
        print(f'wrote {args.export} (EMA weights at step {step}, F16)')
        return

    data = load_emoji_split(cfg['resolution'], 'train')
    abar = alpha_bars(diffusion)
    weight = loss_weights(abar, recipe)
    T = diffusion['num_diffusion_timesteps']
    curve = Curve(args, abar, cfg['resolution']) if args.eval_every else None
    log = open(os.path.join(args.run_dir, 'loss.csv'), 'a')
    if step == 0:
        log.write('step,loss,lr,seconds\n')
    print(f'{sum(p.numel() for p in model.parameters())} parameters, {len(data)} training images, recipe {recipe}', flush=True)
    t0, window = time.time(), []
    while step < args.steps:
        idx = torch.randint(0, len(data), (recipe['batch'],))
        x0 = data[idx]
        flip = torch.rand(recipe['batch']) < 0.5
        x0 = torch.where(flip[:, None, None, None], x0.flip(3), x0)
        t = torch.randint(0, T, (recipe['batch'],))
        noise = torch.randn_like(x0)
        a = abar[t][:, None, None, None]
        xt = a.sqrt() * x0 + (1 - a).sqrt() * noise
        loss = (weight[t] * (noise - model(xt, t)).square().sum(dim=(1, 2, 3))).mean()
        lr = learning_rate(recipe, step)
        for g in opt.param_groups:
            g['lr'] = lr
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), recipe['grad_clip'])
        opt.step()
        rate = ema_rate(recipe, step)
        with torch.no_grad():
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.mul_(rate).add_(pm, alpha=1 - rate)
        step += 1
        window.append(loss.item())
        log.write(f'{step},{loss.item():.5f},{lr:.6g},{time.time() - t0:.1f}\n')
        if step % args.save_every == 0 or step == args.steps:
            log.flush()
            tmp = ckpt_path + '.tmp'
            torch.save({'config': cfg, 'recipe': recipe, 'diffusion': diffusion, 'step': step, 'model': model.state_dict(), 'ema': ema.state_dict(),
                        'optimizer': opt.state_dict(), 'rng': torch.get_rng_state()}, tmp)
            os.replace(tmp, ckpt_path)
            meta['trainer'] = json.dumps({**recipe, 'tool': 'tools/train_torch.py', 'data': 'emoji16/train', 'step': step})
            write_safetensors(os.path.join(args.run_dir, 'model.safetensors'), ema.state_dict(), meta)
            print(f'step {step}: loss {sum(window) / len(window):.2f} (mean of last {len(window)}), {time.time() - t0:.0f} s', flush=True)
            window = []
        if curve and step % args.eval_every == 0 and not curve.has(step):
            curve.measure(ema, step, step * recipe['batch'], plain=args.eval_plain_every and step % args.eval_plain_every == 0)


if __name__ == '__main__':
    main()
