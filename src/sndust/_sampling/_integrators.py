"""The isokinetic integrator and starting values shared by the MCLMC samplers."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ._metric import blackjax

__all__ = ["initial_params", "isokinetic_mclachlan"]


def isokinetic_mclachlan(logdensity_fn, inverse_mass_matrix=1.0):
    """BlackJAX's isokinetic McLachlan step (momentum B(b₁ε) A(ε/2) B(b₂ε) A(ε/2) B(b₁ε),
    b₂ = 1 − 2b₁) with its two position-and-gradient stages as a two-iteration loop, so
    the compiled kernel holds one copy of the model's gradient instead of two.

    Same arithmetic as ``blackjax.mcmc.integrators.isokinetic_mclachlan`` (trajectories
    agree to ~10⁻¹² on the 5-SN benchmark model); the kernel programs of a 5-SN run
    compile in about 30% less time (benchmarks/README.md).
    """
    integrators = blackjax().mcmc.integrators
    momentum_update = integrators.esh_dynamics_momentum_update_one_step(inverse_mass_matrix)
    position_update = integrators.euclidean_position_update_fn(logdensity_fn)
    b1, a1, b2 = integrators.mclachlan_coefficients[:3]

    def one_step(state, step_size):
        dtype = jnp.result_type(state.logdensity)

        def stage(carry, b):
            position, momentum, _, grad, kinetic = carry
            momentum, velocity, kinetic = momentum_update(momentum, grad, step_size, b, kinetic)
            position, logdensity, grad, _ = position_update(position, velocity, step_size, a1)
            return (position, momentum, logdensity, grad, kinetic), None

        carry = (*state, jnp.zeros((), dtype))
        carry, _ = jax.lax.scan(stage, carry, jnp.asarray([b1, b2], dtype))
        position, momentum, logdensity, grad, kinetic = carry
        momentum, _, kinetic = momentum_update(momentum, grad, step_size, b1, kinetic)
        return integrators.IntegratorState(position, momentum, logdensity, grad), kinetic

    return one_step


def initial_params(metric, step_fraction):
    """BlackJAX's default starting L and step size (√d, fraction·√d, in preconditioned
    units), with the starting metric's diagonal as the starting preconditioner."""
    dim = metric.shape[-1]
    root = jnp.sqrt(jnp.asarray(dim, metric.dtype))
    state = blackjax().adaptation.mclmc_adaptation.MCLMCAdaptationState
    return state(root, step_fraction * root, inverse_mass_matrix=metric)
