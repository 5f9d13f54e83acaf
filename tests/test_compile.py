"""``jit_once``: the one-shot programs' compile options, top level and nested."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from conftest import count_compiles

from sndust._compile import _once_options, jit_once


def test_jit_once_runs_top_level_and_inside_other_transformations():
    # compiler options are refused on a nested jit: inside jit, vmap or grad the function
    # must fall back to an ordinary filter_jit and give the same numbers
    f = jit_once(lambda x, scale: scale * jnp.sin(x) ** 2)
    x = jnp.linspace(0.0, 1.0, 5)
    top = f(x, 2.0)
    np.testing.assert_allclose(top, 2.0 * np.sin(np.asarray(x)) ** 2, rtol=1e-14)
    np.testing.assert_allclose(jax.jit(lambda y: f(y, 2.0))(x), top, rtol=1e-14)
    np.testing.assert_allclose(jax.vmap(lambda y: f(y, 2.0))(x), top, rtol=1e-14)
    grad = jax.grad(lambda y: jnp.sum(f(y, 2.0)))(x)
    np.testing.assert_allclose(grad, 4.0 * np.sin(np.asarray(x)) * np.cos(np.asarray(x)))


def test_once_options_are_known_to_this_jaxlib():
    options = _once_options()
    assert options in ({}, {"xla_cpu_use_fusion_emitters": False})
    if options:  # the option really reaches XLA: a misspelt one is refused at compile
        jax.jit(lambda x: x, compiler_options=options).lower(1.0).compile()


def test_model_constrain_is_the_same_inside_jit(small):
    model, _ = small
    x = model.init_position(jax.random.key(2))
    outside = model.constrain(x)
    inside = jax.jit(lambda y: model.constrain(y))(x)
    for name, value in outside.items():
        np.testing.assert_allclose(inside[name], value, rtol=1e-12, err_msg=name)


def test_surveys_of_one_shape_share_their_compiled_programs(sed):
    """A second survey of the same shape (another simulation of the same design: other
    SNe, other truths) runs the programs compiled for the first, with its own data: the
    sampling loop, the MAP start and the chains' initial states compile once for both,
    and a program compiled for one model evaluates the other's log density, not the
    first's. Before, every survey compiled everything again (about 25 s on 2 CPU cores),
    which simulation-based calibration over hundreds of surveys and refits in a notebook
    paid each time."""
    import equinox as eqx

    import sndust as sd

    population = sd.SinglePopulation()
    models = [
        sd.HierarchicalModel(
            sed=sed,
            survey=sd.simulate_survey(jax.random.key(k), sed, population, n_sn=3)[0],
            population=population,
        )
        for k in (11, 12)
    ]
    x = models[0].init_position(jax.random.key(0))
    jitted = eqx.filter_jit(lambda model, y: model.logdensity(y))
    for model in models:
        np.testing.assert_allclose(jitted(model, x), model.logdensity(x), rtol=1e-12)
    assert float(jitted(models[0], x)) != float(jitted(models[1], x))

    sampler = sd.NUTS(num_warmup=4, num_samples=4, max_tree_depth=3)
    with count_compiles("_advance", "_optimise", "_init") as compiles:
        draws = [
            sampler.run(m, jax.random.key(1), chains=1, init="map", progress=False) for m in models
        ]
    assert compiles == {"_advance": 1, "_optimise": 1, "_init": 1}
    assert not np.allclose(draws[0].posterior["A_V"], draws[1].posterior["A_V"])
