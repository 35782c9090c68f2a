#!/usr/bin/env python3
"""PyTorch's side of the engine benchmark (bench/gpu.sh): the same UNets as `ddim bench`, fp32, timed
the same way -- the forward (eps from x, t) and one full training step (forward, backward,
global-norm gradient clip, Adam, EMA of the weights), `iters` runs back to back after 3 warm-ups,
from the first launch to a device synchronize, divided by iters. TF32 is off so both sides compute
in true fp32. Prints a table and writes --json rows shaped like `ddim bench --json`.

  python3 tools/bench_torch.py --configs tiny,bundled --batches 1,8,64 --iters 20 --json torch.json
"""
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_torch import UNet  # noqa: E402  (the reference UNet, same names and shapes)

CONFIGS = {
    # src/nn/presets.ts and the bundled emoji16 model
    'tiny': dict(ch=32, out_ch=3, ch_mult=[1, 2], num_res_blocks=1, attn_resolutions=[8], dropout=0.0, in_channels=3, resolution=16, resamp_with_conv=True),
    'bundled': dict(ch=32, out_ch=3, ch_mult=[1, 2, 2], num_res_blocks=1, attn_resolutions=[8], dropout=0.0, in_channels=3, resolution=16, resamp_with_conv=True),
    'small': dict(ch=64, out_ch=3, ch_mult=[1, 2, 2], num_res_blocks=2, attn_resolutions=[8], dropout=0.1, in_channels=3, resolution=32, resamp_with_conv=True),
}


def timed(fn, iters, device):
    for _ in range(3):
        fn()
    if device.type == 'cuda':
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(iters):
        fn()
    if device.type == 'cuda':
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) * 1000 / iters


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--configs', default='tiny,bundled')
    p.add_argument('--batches', default='1,8')
    p.add_argument('--iters', type=int, default=20)
    p.add_argument('--json')
    args = p.parse_args()
    device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    name = torch.cuda.get_device_name() if device.type == 'cuda' else 'cpu'
    print(f'device: {name}, torch {torch.__version__}')
    print('config     params  batch   forward ms   img/s   train step ms   img/s')
    rows = []
    for cname in args.configs.split(','):
        cfg = CONFIGS[cname]
        for B in [int(b) for b in args.batches.split(',')]:
            torch.manual_seed(0)
            model = UNet(cfg).to(device)
            ema = UNet(cfg).to(device)
            ema.load_state_dict(model.state_dict())
            opt = torch.optim.Adam(model.parameters(), lr=2e-4, betas=(0.9, 0.999), eps=1e-8)
            n_params = sum(p.numel() for p in model.parameters())
            x = torch.randn(B, 3, cfg['resolution'], cfg['resolution'], device=device)
            t = torch.tensor([(37 + 125 * i) % 1000 for i in range(B)], device=device)
            noise = torch.randn_like(x)

            def forward():
                with torch.no_grad():
                    model(x, t)

            def step():
                opt.zero_grad(set_to_none=True)
                loss = (noise - model(x, t)).square().sum(dim=(1, 2, 3)).mean()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
                with torch.no_grad():
                    for pe, pm in zip(ema.parameters(), model.parameters()):
                        pe.mul_(0.9999).add_(pm, alpha=1e-4)

            model.eval()
            fwd = timed(forward, args.iters, device)
            model.train()
            tr = timed(step, args.iters, device)
            rows.append(dict(config=cname, parameters=n_params, batch=B, forward_ms=fwd, train_step_ms=tr))
            print(f'{cname:<8}{n_params:>10,}{B:>7}{fwd:>13.3f}{1000 * B / fwd:>8.0f}{tr:>16.3f}{1000 * B / tr:>8.0f}', flush=True)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(device=name, torch=torch.__version__, iters=args.iters, rows=rows), f, indent=1)


if __name__ == '__main__':
    main()
