#!/usr/bin/env python3
"""PyTorch's side of the engine benchmark (bench/gpu.sh): the same UNets as `ddim bench`, timed the
same way -- the forward (eps from x, t) and one full training step (forward, backward, global-norm
gradient clip, Adam, EMA of the weights), `iters` runs back to back after 3 warm-ups, from the first
launch to a device synchronize, divided by iters. TF32 is off so that fp32 is true fp32. Prints a
table and writes --json rows shaped like `ddim bench --json`.

  --mode eager    PyTorch as most code runs it: one Python launch per kernel, a Python loop for the EMA.
  --mode graphs   PyTorch as an engineer after speed runs it (CUDA only): cudnn.benchmark, Adam with
                  fused=True and capturable=True, clip and EMA with the foreach ops, and the whole
                  forward and the whole training step each captured in one CUDA graph and replayed.
  --amp bf16      the forward and the loss under torch.autocast(bfloat16) (weights, Adam and EMA in fp32).

  python3 tools/bench_torch.py --configs tiny,bundled,small,cifar10 --batches 1,8,64 --mode graphs --json torch-graphs.json
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
    # src/nn/config.ts CIFAR10_CONFIG: the DDIM paper's CIFAR-10 model, 35.7M parameters
    'cifar10': dict(ch=128, out_ch=3, ch_mult=[1, 2, 2, 2], num_res_blocks=2, attn_resolutions=[16], dropout=0.1, in_channels=3, resolution=32, resamp_with_conv=True),
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


def graphed(fn, device, reset=lambda: None):
    """fn captured in one CUDA graph, as PyTorch's docs do it: 3 warm-up runs on a side stream, then
    the capture; `reset` runs before each (the step's set_to_none zeroing, so that the captured
    backward allocates its gradients from the graph's pool and assigns them on every replay). The
    returned function replays the graph; the tensors fn reads and writes keep their addresses."""
    side = torch.cuda.Stream(device)
    side.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(side):
        for _ in range(3):
            reset()
            fn()
    torch.cuda.current_stream(device).wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    reset()
    with torch.cuda.graph(graph):
        fn()
    return graph.replay


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--configs', default='tiny,bundled')
    p.add_argument('--batches', default='1,8')
    p.add_argument('--iters', type=int, default=20)
    p.add_argument('--mode', choices=['eager', 'graphs'], default='eager')
    p.add_argument('--amp', choices=['fp32', 'bf16'], default='fp32')
    p.add_argument('--json')
    args = p.parse_args()
    device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    if args.mode == 'graphs' and device.type != 'cuda':
        sys.exit('bench_torch.py: --mode graphs needs a CUDA device (CUDA graphs, fused capturable Adam); this machine has none')
    if args.amp == 'bf16' and device.type != 'cuda':
        sys.exit('bench_torch.py: --amp bf16 is measured on CUDA (CPU autocast does not cover GroupNorm in every torch); this machine has none')
    unknown = [c for c in args.configs.split(',') if c not in CONFIGS]
    if unknown:
        sys.exit(f'bench_torch.py: unknown config {unknown[0]!r} (known: {", ".join(CONFIGS)})')
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = args.mode == 'graphs'
    graphs = args.mode == 'graphs'
    name = torch.cuda.get_device_name() if device.type == 'cuda' else 'cpu'
    print(f'device: {name}, torch {torch.__version__}, mode {args.mode}, {args.amp}')
    print('config     params  batch   forward ms   img/s   train step ms   img/s')
    rows = []
    for cname in args.configs.split(','):
        cfg = CONFIGS[cname]
        for B in [int(b) for b in args.batches.split(',')]:
            torch.manual_seed(0)
            model = UNet(cfg).to(device)
            ema = UNet(cfg).to(device)
            ema.load_state_dict(model.state_dict())
            params, ema_params = list(model.parameters()), list(ema.parameters())
            fused = dict(fused=True, capturable=True) if graphs else {}
            opt = torch.optim.Adam(params, lr=2e-4, betas=(0.9, 0.999), eps=1e-8, **fused)
            n_params = sum(p.numel() for p in params)
            x = torch.randn(B, 3, cfg['resolution'], cfg['resolution'], device=device)
            t = torch.tensor([(37 + 125 * i) % 1000 for i in range(B)], device=device)
            noise = torch.randn_like(x)
            # No cast cache: a captured graph must not keep casts of weights that Adam then updates.
            amp = torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.amp == 'bf16', cache_enabled=False)

            def forward():
                with torch.no_grad(), amp:
                    model(x, t)

            def zero():
                opt.zero_grad(set_to_none=True)

            def step():
                if not graphs:
                    zero()   # captured, graphed() zeroes before the capture instead
                with amp:
                    loss = (noise - model(x, t)).float().square().sum(dim=(1, 2, 3)).mean()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0, **({'foreach': True} if graphs else {}))
                opt.step()
                with torch.no_grad():
                    if graphs:
                        torch._foreach_mul_(ema_params, 0.9999)
                        torch._foreach_add_(ema_params, params, alpha=1e-4)
                    else:
                        for pe, pm in zip(ema_params, params):
                            pe.mul_(0.9999).add_(pm, alpha=1e-4)

            model.eval()
            fwd = timed(graphed(forward, device) if graphs else forward, args.iters, device)
            model.train()
            tr = timed(graphed(step, device, zero) if graphs else step, args.iters, device)
            rows.append(dict(config=cname, parameters=n_params, batch=B, forward_ms=fwd, train_step_ms=tr))
            print(f'{cname:<8}{n_params:>10,}{B:>7}{fwd:>13.3f}{1000 * B / fwd:>8.0f}{tr:>16.3f}{1000 * B / tr:>8.0f}', flush=True)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(device=name, torch=torch.__version__, mode=args.mode, amp=args.amp, iters=args.iters, rows=rows), f, indent=1)


if __name__ == '__main__':
    main()
