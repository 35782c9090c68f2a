#!/usr/bin/env python3
"""Trains a layered model (the seed's research variant: one time-free UNet per DDIM step) with PyTorch
on the CPU, with the options of the engine's LayeredTrainer (src/research/trainer.ts, chain.ts,
truth.ts), and writes it in the engine's layered safetensors format (`ddim-layered`).

Why this exists: the bundled layered models must be trained about as long as the bundled
time-conditioned one (~1M image-gradient evaluations) to judge the seed's question, and WebGPU on the
build machines is SwiftShader. The sub-models, their names (`models.<t>.*`), the chain's update
x_j = a x_i + b eps_i(x_i) and the losses are the engine's; `--check` compares this script's layer and
end-to-end losses and gradients with ../shared/reference/layered4.golden.safetensors.

Modes (one image-gradient evaluation = one sub-model forward and backward for one image, so a step
costs batch x K for K trained sub-models):
  layer    every sub-model predicts the noise of x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) noise at its t
           (the same x0 and noise for all), loss mean_b sum_chw (noise - eps)^2, summed over t;
  end2end  the chain runs from the ground truth at the largest t; step k's loss is
           mean_b sum_chw (x_{k+1} - true_{k+1})^2 (ground truth D, A or B as src/research/truth.ts),
           summed (optionally weighted by 1/abar_t), back through the whole chain; --correction detach
           makes each step's residual the noise loss on the chain's own input (the seed's use_adv_loss),
           --teacher-forcing runs every step on the ground truth of its t (no chain in between).
The recipe is the engine's (src/train/recipe.ts): Adam, lr warmup then cosine decay, EMA with warmup,
random flips; gradients are clipped per sub-model (--clip-scope model, the engine's layer mode; the
bundled end2end16 was trained so too) or over the whole chain (--clip-scope global, the engine's end2end
mode; bench/answers.sh's e2e_globalclip checks that the end-to-end result does not depend on it). The run lives in --run-dir (checkpoint.pt, loss.csv,
curve.csv with the FD of the EMA chain's samples) and resumes from it.

  python3 tools/train_layered_torch.py --run-dir RUN --mode layer --evals 1000000 --eval-every 100000
  python3 tools/train_layered_torch.py --run-dir RUN --export public/models/layer16.safetensors
  python3 tools/train_layered_torch.py --check
"""
import argparse
import json
import math
import os
import time

import numpy as np
import torch

from train_torch import UNet, alpha_bars, restore, learning_rate, ema_rate, load_emoji_split, read_safetensors, write_safetensors, ROOT

DEFAULT_CONFIG = os.path.join(ROOT, 'bench/research/layered16.json')


def expand(raw, n):
    """A per-step list, plain or run-length encoded ([{"value": v, "num": k}]), as n entries."""
    out = []
    for item in raw:
        out += [item['value']] * item['num'] if isinstance(item, dict) else [item]
    assert len(out) == n, f'{len(out)} entries for {n} steps'
    return out


class Layered:
    """The sub-models of a layered description (its metadata keys: model, ch_num, diffusion), by t."""

    def __init__(self, desc):
        self.desc = desc
        d = desc['diffusion']
        T, K = d['num_diffusion_timesteps'], d['num_block']
        self.seq = list(range(0, T, T // K))
        self.abar = alpha_bars(d).double()
        chs = expand(desc['ch_num'], len(self.seq))
        self.models = torch.nn.ModuleDict({str(t): UNet({**desc['model'], 'ch': ch}) for t, ch in zip(self.seq, chs)})
        # The chain, noisiest first: from t to next, x_next = a x + b eps(x).
        self.steps = []
        for k in range(len(self.seq) - 1, 0, -1):
            t, nxt = self.seq[k], self.seq[k - 1]
            ai, aj = self.abar[t].item(), self.abar[nxt].item()
            a = math.sqrt(aj / ai)
            self.steps.append((t, nxt, a, math.sqrt(1 - aj) - math.sqrt(1 - ai) * a))

    def trained(self):
        """The sub-models that run (t > 0), ascending."""
        return [(t, self.models[str(t)]) for t in self.seq[1:]]

    def chain(self, x, keep=False):
        """The chain from x at the largest t down to t = 0; with keep, every x (x_T first) and the first step's x0."""
        xs, first_x0 = [x], None
        for t, _, a, b in self.steps:
            e = self.models[str(t)](x)
            if first_x0 is None:
                at = self.abar[t].item()
                first_x0 = (x - math.sqrt(1 - at) * e) / math.sqrt(at)
            x = a * x + b * e
            xs.append(x)
        return (xs, first_x0) if keep else x

    def state_dict(self):
        return {f'models.{t}.{k}': v for t, m in self.models.items() for k, v in m.state_dict().items()}

    def load_state_dict(self, tensors):
        for t, m in self.models.items():
            m.load_state_dict({k[len(f'models.{t}.'):]: v for k, v in tensors.items() if k.startswith(f'models.{t}.')}, strict=True)


def ground_truth(kind, lay, x0, noise, gen):
    """True x at every point of the chain (largest t first), as src/research/truth.ts (fresh noise from `gen`)."""
    ts = list(reversed(lay.seq))
    sq = lambda t: (math.sqrt(lay.abar[t].item()), math.sqrt(1 - lay.abar[t].item()))
    if kind == 'D':
        return [sq(t)[0] * x0 + sq(t)[1] * noise for t in ts]
    if kind == 'B':
        return [sq(t)[0] * x0 + sq(t)[1] * (noise if k == 0 else torch.randn(x0.shape, generator=gen)) for k, t in enumerate(ts)]
    up = [x0]
    for k in range(1, len(lay.seq)):
        r = (lay.abar[lay.seq[k]] / lay.abar[lay.seq[k - 1]]).item()
        up.append(math.sqrt(r) * up[-1] + math.sqrt(1 - r) * torch.randn(x0.shape, generator=gen))
    return list(reversed(up))


def layer_losses(lay, x0, noise):
    """Noise-prediction loss of every trained sub-model at its own t (ascending t)."""
    out = []
    for t, m in lay.trained():
        a = lay.abar[t].item()
        xt = math.sqrt(a) * x0 + math.sqrt(1 - a) * noise
        out.append((noise - m(xt)).square().sum(dim=(1, 2, 3)).mean())
    return out


def end2end_losses(lay, true_xs, correction='none', teacher_forcing=False):
    """One loss per chain step (noisiest first): mean_b sum_chw (x_{k+1} - target_k)^2 (src/research/chain.ts)."""
    x, out = true_xs[0], []
    for k, (t, _, a, b) in enumerate(lay.steps):
        inp = true_xs[k] if teacher_forcing and k > 0 else x
        nxt = a * inp + b * lay.models[str(t)](inp)
        target = true_xs[k + 1]
        if correction != 'none' and k > 0:
            carried = a * (x if correction == 'full' else x.detach())
            target = target + carried - a * true_xs[k]
        out.append((nxt - target).square().sum(dim=(1, 2, 3)).mean())
        x = nxt
    return out


def check():
    """This script's losses and gradients against the reference's layered golden (README tolerances)."""
    w, meta = read_safetensors(os.path.join(ROOT, '../shared/reference/layered4.safetensors'))
    g, _ = read_safetensors(os.path.join(ROOT, '../shared/reference/layered4.golden.safetensors'))
    desc = {k: json.loads(meta[k]) for k in ('model', 'ch_num', 'diffusion')}
    lay = Layered(desc)
    lay.load_state_dict(w)
    assert torch.allclose(lay.chain(g['xT']), g['sample/xs'][-1], atol=1e-4), 'chain'
    for mode in ('layer', 'e2e'):
        for m in lay.models.values():
            m.zero_grad()
        losses = layer_losses(lay, g['x0'], g['noise']) if mode == 'layer' else end2end_losses(lay, list(g['e2e/true_xs']))
        got = torch.stack(losses)
        ref = g[f'{mode}/losses']
        assert torch.allclose(got, ref, rtol=1e-4), f'{mode} losses {got} vs {ref}'
        sum(losses).backward()
        top = max(v.abs().max().item() for k, v in g.items() if k.startswith(f'{"layer_grad" if mode == "layer" else "grad"}/'))
        for t, m in lay.trained():
            for name, p in m.named_parameters():
                ref = g[f'{"layer_grad" if mode == "layer" else "grad"}/models.{t}.{name}']
                tol = 1e-3 * max(ref.abs().max().item(), 1e-3 * top)
                assert (p.grad - ref).abs().max().item() <= tol, f'{mode} grad models.{t}.{name}'
        print(f'{mode}: losses {[round(v, 4) for v in got.tolist()]} and every gradient match the golden')


def fd_of_chain(lay, n, seed, ref, size):
    """FD of the chain's final samples and of its first-step x0 from n noises, and the samples' spread:
    the per-value standard deviation across samples, averaged (real emoji: about 0.5; a chain that
    collapses to one image: 0)."""
    from eval_torch import features, frechet
    gen = torch.Generator().manual_seed(seed)
    xT = torch.randn(n, 3, size, size, generator=gen)
    with torch.no_grad():
        outs = [lay.chain(xT[i:i + 128], keep=True) for i in range(0, n, 128)]
    final = torch.cat([xs[-1] for xs, _ in outs]).clamp(-1, 1)
    first = torch.cat([f for _, f in outs]).clamp(-1, 1)
    return frechet(features(final), ref), frechet(features(first), ref), final.std(dim=0).mean().item()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--run-dir')
    p.add_argument('--config', default=DEFAULT_CONFIG, help='a layered description (model, ch_num, diffusion with num_block)')
    p.add_argument('--ch', type=int, help='every sub-model at this width (overrides the config\'s ch_num)')
    p.add_argument('--mode', choices=['layer', 'end2end'], default='layer')
    p.add_argument('--ground-truth', choices=['D', 'A', 'B'], default='D')
    p.add_argument('--correction', choices=['none', 'detach', 'full'], default='none')
    p.add_argument('--teacher-forcing', action='store_true')
    p.add_argument('--loss-weights', action='store_true', help='end2end: weight step k\'s loss by 1/abar_t (the seed\'s)')
    p.add_argument('--evals', type=int, default=1_000_000, help='train until this many image-gradient evaluations')
    p.add_argument('--batch', type=int, default=32)
    p.add_argument('--lr', type=float, default=2e-3)
    p.add_argument('--warmup', type=int, default=200)
    p.add_argument('--lr-min', type=float, default=0.1)
    p.add_argument('--ema', type=float, default=0.999)
    p.add_argument('--grad-clip', type=float, default=1.0)
    p.add_argument('--clip-scope', choices=['model', 'global'], default='model',
                   help='clip each sub-model\'s gradient norm (the engine\'s layer mode) or the whole chain\'s (the engine\'s end2end mode)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--eval-every', type=int, default=0, help='FD of the EMA chain every this many evaluations (curve.csv)')
    p.add_argument('--eval-n', type=int, default=384)
    p.add_argument('--save-every', type=int, default=250)
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--export', help='write the EMA weights (F16) in the engine\'s layered format here and exit')
    p.add_argument('--check', action='store_true', help='compare the losses and gradients with the reference golden and exit')
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if args.check:
        return check()
    os.makedirs(args.run_dir, exist_ok=True)
    ckpt_path = os.path.join(args.run_dir, 'checkpoint.pt')
    state = torch.load(ckpt_path) if os.path.exists(ckpt_path) else None
    if state:
        desc, recipe = state['desc'], state['recipe']
        print(f'resuming {ckpt_path} at step {state["step"]}', flush=True)
    else:
        desc = json.load(open(args.config))
        if args.ch:
            desc['model']['ch'] = args.ch
            desc['ch_num'] = [{'value': args.ch, 'num': desc['diffusion']['num_block']}]
        recipe = {'mode': args.mode, 'ground_truth': args.ground_truth, 'correction': args.correction, 'teacher_forcing': args.teacher_forcing,
                  'loss_weights': args.loss_weights, 'batch': args.batch, 'lr': args.lr, 'warmup': args.warmup, 'lr_decay': 'cosine', 'lr_min': args.lr_min,
                  'ema': args.ema, 'ema_warmup': True, 'grad_clip': args.grad_clip, 'clip_scope': args.clip_scope, 'seed': args.seed, 'flip': True}
    torch.manual_seed(recipe['seed'])
    lay, ema = Layered(desc), Layered(desc)
    K = len(lay.seq) - 1
    evals_per_step = recipe['batch'] * K
    total_steps = max(1, args.evals // evals_per_step)
    recipe['decay_steps'] = recipe.get('decay_steps') or total_steps
    params = [q for _, m in lay.trained() for q in m.parameters()]
    opt = torch.optim.Adam(params, lr=recipe['lr'], betas=(0.9, 0.999), eps=1e-8)
    step = restore(state, lay, ema, opt)
    meta = lambda s: {'format': 'ddim-layered', **{k: json.dumps(desc[k]) for k in ('model', 'ch_num', 'diffusion')},
                      'trainer': json.dumps({**recipe, 'tool': 'tools/train_layered_torch.py', 'data': 'emoji16/train', 'step': s, 'evals': s * evals_per_step}), 'step': str(s)}
    if args.export:
        write_safetensors(args.export, ema.state_dict(), meta(step), 'F16')
        print(f'wrote {args.export} (EMA weights at step {step}, {step * evals_per_step} evaluations, F16)')
        return

    size = desc['model']['resolution']
    data = load_emoji_split(size, 'train')
    ref = None
    if args.eval_every:
        from eval_torch import features
        ref = features(load_emoji_split(size, 'eval'))
        curve_path = os.path.join(args.run_dir, 'curve.csv')
        if not os.path.exists(curve_path):
            open(curve_path, 'w').write('step,evals,fd_final,fd_first,spread,loss,seconds\n')
    weights = [1 / lay.abar[t].item() for t, *_ in lay.steps] if recipe['loss_weights'] else [1.0] * K
    gen = torch.Generator().manual_seed(recipe['seed'] + 1 + step)
    log = open(os.path.join(args.run_dir, 'loss.csv'), 'a')
    if step == 0:
        log.write('step,evals,loss,lr,seconds\n')
    print(f'{sum(q.numel() for q in params)} trained parameters in {K} sub-models, {evals_per_step} evaluations a step, {total_steps} steps; recipe {recipe}', flush=True)
    t0, window = time.time(), []
    while step < total_steps:
        idx = torch.randint(0, len(data), (recipe['batch'],))
        x0 = data[idx]
        flip = torch.rand(recipe['batch']) < 0.5
        x0 = torch.where(flip[:, None, None, None], x0.flip(3), x0)
        noise = torch.randn_like(x0)
        if recipe['mode'] == 'layer':
            losses = layer_losses(lay, x0, noise)
        else:
            losses = end2end_losses(lay, ground_truth(recipe['ground_truth'], lay, x0, noise, gen), recipe['correction'], recipe['teacher_forcing'])
        loss = sum(w * l for w, l in zip(weights, losses)) if recipe['mode'] == 'end2end' else sum(losses)
        lr = learning_rate(recipe, step)
        for g in opt.param_groups:
            g['lr'] = lr
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if recipe.get('clip_scope', 'model') == 'global':  # one norm over the chain (the engine's end2end mode)
            torch.nn.utils.clip_grad_norm_(params, recipe['grad_clip'])
        else:  # one norm per sub-model (the engine's groups models.<t>, its layer mode)
            for _, m in lay.trained():
                torch.nn.utils.clip_grad_norm_(m.parameters(), recipe['grad_clip'])
        opt.step()
        rate = ema_rate(recipe, step)
        with torch.no_grad():
            for (_, me), (_, mm) in zip(ema.trained(), lay.trained()):
                for pe, pm in zip(me.parameters(), mm.parameters()):
                    pe.mul_(rate).add_(pm, alpha=1 - rate)
        step += 1
        value = sum(l.item() for l in losses)
        window.append(value)
        log.write(f'{step},{step * evals_per_step},{value:.5f},{lr:.6g},{time.time() - t0:.1f}\n')
        if step % args.save_every == 0 or step == total_steps:
            log.flush()
            tmp = ckpt_path + '.tmp'
            torch.save({'desc': desc, 'recipe': recipe, 'step': step, 'model': lay.state_dict(), 'ema': ema.state_dict(),
                        'optimizer': opt.state_dict(), 'rng': torch.get_rng_state()}, tmp)
            os.replace(tmp, ckpt_path)
            print(f'step {step}/{total_steps}: loss {sum(window) / len(window):.2f} (mean of last {len(window)}), {time.time() - t0:.0f} s', flush=True)
            window = []
        evals = step * evals_per_step
        if ref is not None and (evals // args.eval_every != (evals - evals_per_step) // args.eval_every or step == total_steps):
            t1 = time.time()
            for m in ema.models.values():
                m.eval()
            fd_final, fd_first, spread = fd_of_chain(ema, args.eval_n, 0, ref, size)
            open(curve_path, 'a').write(f'{step},{evals},{fd_final:.4f},{fd_first:.4f},{spread:.4f},{value:.4f},{time.time() - t1:.0f}\n')
            print(f'step {step} ({evals} evaluations): FD final {fd_final:.2f}, first-step x0 {fd_first:.2f}, spread {spread:.3f}', flush=True)


if __name__ == '__main__':
    main()
