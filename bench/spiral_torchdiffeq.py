"""torchdiffeq on odeflow's spiral-demo setting (W1): trains ode_demo's loop and
reports the full-trajectory loss as `odeflow demo spiral` does.

Seed S: model weights 0.1*normal() from SplitMix64(S), batch starts from
SplitMix64(S + 1) (S = 1 is W1's reference pair, like `odeflow demo spiral --seed S`).
usage: TORCHDIFFEQ_DIR=... python3 bench/spiral_torchdiffeq.py --gradient direct|adjoint --seed S [--iterations 2000]
"""
import argparse, json, math, os, statistics, sys, time

td = os.environ.get("TORCHDIFFEQ_DIR")
if not td:
    sys.exit("set TORCHDIFFEQ_DIR to the torchdiffeq repository root (the folder containing torchdiffeq/)")
sys.path.insert(0, td)
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
from torchdiffeq import odeint, odeint_adjoint  # noqa: E402

M64 = (1 << 64) - 1


class SplitMix64:  # the portable PRNG of W1 (shared/bench/prng.py)
    def __init__(self, seed):
        self.s = seed & M64

    def u64(self):
        self.s = (self.s + 0x9E3779B97F4A7C15) & M64
        z = self.s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        return z ^ (z >> 31)

    def uniform(self):
        return (self.u64() >> 11) * (1.0 / 9007199254740992.0)

    def normal(self):
        u1 = 1.0 - self.uniform()
        u2 = self.uniform()
        return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)

    def below(self, n):
        return int(self.uniform() * n)


class Lambda(nn.Module):
    def forward(self, t, y):
        return torch.mm(y ** 3, torch.tensor([[-0.1, 2.0], [-2.0, -0.1]], dtype=y.dtype))


class Func(nn.Module):
    def __init__(self, seed):
        super().__init__()
        self.l1, self.l2 = nn.Linear(2, 50), nn.Linear(50, 2)
        g = SplitMix64(seed)
        with torch.no_grad():
            for lin in (self.l1, self.l2):  # row-major weight, float32-rounded like the reference, bias 0
                w = [[0.1 * g.normal() for _ in range(lin.in_features)] for _ in range(lin.out_features)]
                lin.weight.copy_(torch.tensor(w, dtype=torch.float32))
                lin.bias.zero_()
        self.double()

    def forward(self, t, y):
        return self.l2(torch.tanh(self.l1(y ** 3)))


p = argparse.ArgumentParser()
p.add_argument("--gradient", choices=["direct", "adjoint"], default="direct")
p.add_argument("--seed", type=int, default=1)
p.add_argument("--iterations", type=int, default=2000)
p.add_argument("--test-freq", type=int, default=20)
p.add_argument("--lr", type=float, default=1e-3)
p.add_argument("--threads", type=int, default=1)
a = p.parse_args()
torch.set_num_threads(a.threads)

data_size, batch_time, batch_size = 1000, 10, 20
t = torch.linspace(0.0, 25.0, data_size, dtype=torch.float64)
true_y0 = torch.tensor([[2.0, 0.0]], dtype=torch.float64)
with torch.no_grad():
    true_y = odeint(Lambda(), true_y0, t, method="dopri5")  # rtol 1e-7, atol 1e-9 (defaults)

func = Func(a.seed)
solve = odeint if a.gradient == "direct" else odeint_adjoint
opt = torch.optim.RMSprop(func.parameters(), lr=a.lr)
sampler = SplitMix64(a.seed + 1)
history, secs, cpu, first_loss = [], [], [], None
for it in range(1, a.iterations + 1):
    t0, c0 = time.perf_counter(), time.process_time()
    opt.zero_grad()
    starts = []
    while len(starts) < batch_size:  # distinct starts, as W1 draws them
        v = sampler.below(data_size - batch_time)
        if v not in starts:
            starts.append(v)
    s = torch.tensor(starts, dtype=torch.int64)
    batch_y0, batch_t = true_y[s], t[:batch_time]
    batch_y = torch.stack([true_y[s + i] for i in range(batch_time)], dim=0)
    pred = solve(func, batch_y0, batch_t, method="dopri5")
    loss = torch.mean(torch.abs(pred - batch_y))
    loss.backward()
    if first_loss is None:
        first_loss = loss.item()
    opt.step()
    secs.append(time.perf_counter() - t0)
    cpu.append(time.process_time() - c0)
    if it % a.test_freq == 0 or it == a.iterations:
        with torch.no_grad():
            full = torch.mean(torch.abs(odeint(func, true_y0, t, method="dopri5") - true_y)).item()
        history.append((it, full))

print(json.dumps({"gradient": a.gradient, "seed": a.seed, "iterations": a.iterations, "first_batch_loss": first_loss, "torch": torch.__version__,
                  "final_full_trajectory_loss": history[-1][1],
                  "mean_of_last_10_evaluations": statistics.mean(h[1] for h in history[-10:]),
                  "median_of_last_50_evaluations": statistics.median(h[1] for h in history[-50:]),
                  "iteration_median_seconds": statistics.median(secs),
                  "iteration_median_cpu_seconds": statistics.median(cpu), "iteration_min_seconds": min(secs), "iteration_max_seconds": max(secs),
                  "training_seconds": sum(secs), "history": history}), flush=True)
