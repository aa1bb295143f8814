"""Memory and time of one training batch of the evidence E/I network, BPTT against the online
rule, for a trial of ``T`` steps: the one measurement ``benchmarks/training_memory.py`` and the
Speed panel's :class:`~core.training.speed.MemoryRaceJob` share.

The training step (gradient + Adam update, inputs generated inside the time loop) is compiled for
the variant; memory is XLA's plan for the compiled step (``compiled.memory_analysis()``:
temporaries, and temporaries + arguments + outputs as the peak), so it is exact and independent of
other processes; time is the median of ``reps`` runs after a warm-up (none when ``reps`` is 0).
"""

from __future__ import annotations

import statistics
import time

from ..errors import ParameterError

#: the variants measured: BPTT keeping every step, BPTT with ``jax.checkpoint`` segments of 100
#: steps, and the online rule (ES-D-RTRL)
VARIANTS = {"bptt": dict(method="bptt", checkpoint=None),
            "bptt_checkpoint100": dict(method="bptt", checkpoint=100),
            "online": dict(method="online", rule="es-d-rtrl")}

#: the trial around the delay: one 20 ms cue, a 10 ms gap, a 50 ms recall window
CUE_MS, GAP_MS, RECALL_MS = 20.0, 10.0, 50.0
MIN_T = int(CUE_MS + GAP_MS + RECALL_MS)


def measure_training_step(T: int, variant: str, *, batch_size: int = 64, reps: int = 1,
                          synapses: str = "dense", neurons: int | None = None) -> dict:
    """Compile (and, with ``reps`` > 0, time) one training batch of ``variant`` for trials of
    ``T`` steps (1 ms each). ``neurons``: the network's size (4 excitatory : 1 inhibitory;
    default the network's 400). Returns ``{"T", "variant", "compile_s", "temp_MiB", "peak_MiB"}``
    plus ``"s_per_batch"`` when timed."""
    if variant not in VARIANTS:
        raise ParameterError(f"variant must be one of {tuple(VARIANTS)}, got {variant!r}")
    if int(T) < MIN_T:
        raise ParameterError(f"a trial needs at least {MIN_T} steps (a {CUE_MS:g} ms cue, a "
                             f"{GAP_MS:g} ms gap, a {RECALL_MS:g} ms recall window), got {T}")
    import jax

    from .evidence import Trainer, make_config

    kw = dict(VARIANTS[variant])
    method = kw.pop("method")
    network: dict = {"synapses": synapses}
    if neurons is not None:
        if int(neurons) < 5:
            raise ParameterError(f"the network needs at least 5 neurons (4 E : 1 I), got "
                                 f"{neurons}")
        n_inh = max(1, int(neurons) // 5)
        network.update(n_exc=int(neurons) - n_inh, n_inh=n_inh)
    cfg = make_config(method, batch_size=int(batch_size), baseline_trials=0, network=network,
                      task={"n_cues": 1, "cue_ms": CUE_MS, "gap_ms": GAP_MS,
                            "recall_ms": RECALL_MS, "trial_ms": float(T)}, **kw)
    tr = Trainer(cfg)
    params, state = tr.params0, tr.optimizer.init(tr.params0)
    t0 = time.perf_counter()
    compiled = tr.train_step.lower(params, state, 0).compile()
    compile_s = time.perf_counter() - t0
    mem = compiled.memory_analysis()
    row = {"T": int(T), "variant": variant, "compile_s": compile_s,
           "temp_MiB": mem.temp_size_in_bytes / 2**20,
           "peak_MiB": (mem.temp_size_in_bytes + mem.argument_size_in_bytes
                        + mem.output_size_in_bytes) / 2**20}
    if reps:
        jax.block_until_ready(compiled(params, state, 0))
        times = []
        for i in range(int(reps)):
            t0 = time.perf_counter()
            jax.block_until_ready(compiled(params, state, i + 1))
            times.append(time.perf_counter() - t0)
        row["s_per_batch"] = statistics.median(times)
    return row
