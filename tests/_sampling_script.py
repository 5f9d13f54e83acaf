"""Sampling runs in a separate process, for tests that need a fresh JAX (fake devices) or
a process to kill. Usage:

    python _sampling_script.py devices OUT.npz       (with XLA_FLAGS device count 4)
    python _sampling_script.py checkpoint PATH.h5    (runs until killed or done)
"""

from __future__ import annotations

import sys

import jax
import numpy as np

jax.config.update("jax_enable_x64", True)

from helpers import kill_target_sampler, small_model  # noqa: E402

import sndust as sd  # noqa: E402


def devices(out):
    model, _ = small_model()
    assert len(jax.devices()) == 4, jax.devices()
    sampler = sd.NUTS(num_warmup=30, num_samples=20, max_tree_depth=5)
    init = np.zeros((4, model.dim)) + 0.05 * np.arange(4)[:, None]
    runs = {
        "four": dict(devices="chains"),
        "one": dict(devices=jax.devices()[:1]),
        "sn": dict(devices="sn"),
    }
    result = {}
    for name, options in runs.items():
        post = sampler.run(
            model,
            jax.random.key(3),
            chains=4,
            init=init,
            progress=False,
            batch=25,
            precondition=False,
            **options,
        )
        result[name] = post.posterior["tau_A"].values
        result[name + "_lp"] = post.sample_stats["lp"].values
        result[name + "_devices"] = post.posterior.attrs["devices"]
    x = model.init_position(jax.random.key(0))
    from sndust._sampling._devices import Placement

    sharded = Placement("sn", 4, model, model.prepared).put_model(model)
    result["lp_one"] = float(model.logdensity(x))
    result["lp_sn"] = float(jax.jit(lambda m, x: m.logdensity(x))(sharded, x))
    np.savez(out, **result)


def checkpoint(path):
    model, _ = small_model()
    kill_target_sampler().run(
        model, jax.random.key(9), chains=2, init="prior", checkpoint=path, batch=10, progress=False
    )


if __name__ == "__main__":
    {"devices": devices, "checkpoint": checkpoint}[sys.argv[1]](sys.argv[2])
