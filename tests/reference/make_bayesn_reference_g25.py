"""Generate reference FLUXCAL for the G25_85day model from bayesn 0.4.0.

G25_85day is newer than bayesn 0.4.0 (it is not one of its built-in models), but 0.4.0's
``SEDmodel(load_model=<path of BAYESN.YAML>)`` reads it as it is: the file's ``MUR`` and
``SIGMAR`` make it a ``pop_RV`` model (no ``RV`` attribute, so every call here passes
R_V explicitly), the 2800-18500 Å knots set bayesn's rest-frame grid and band weights,
and bayesn's Hsiao template (-19...+85 d, 1000-25000 Å) covers the model's -10...+85 d.
No patch of bayesn is needed. Run in its own process, like make_bayesn_reference.py
(bayesn switches on ``jax_enable_x64`` at import).

``<out>/G25_85day.npz`` holds two parts:

* ``lc_*``: light curves at rest phases -10 < t < 81 d (whole-day and fractional) in
  nine bands from u to H (CSP u B V r i, PS1 z, RetroCam Y J H) at 0.02 < z < 0.11, all
  inside 2800-18500 Å in the rest frame; FLUXCAL from ``SEDmodel.get_flux_batch`` for
  random θ, A_V, R_V (per SN), ε, distance modulus and Milky Way E(B-V);
* ``sim_*``: noise-free ``SEDmodel.simulate_light_curve`` FLUXCAL of those bands at fixed
  phases to +80 d with a free time of maximum and a magnitude offset δM.

Usage: python make_bayesn_reference_g25.py OUT_DIR MODEL_YAML [--seed N]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_bayesn_reference import bayesn_arrays, eps_from_e, simulate_with_bayesn  # noqa: E402

BANDS = ["u_CSP", "B_CSP", "V_CSP", "r_CSP", "i_CSP", "z_PS1", "Y_RC", "J_RC1", "H_RC"]
Z_RANGE = (0.02, 0.11)  # u_CSP stays above 2800 Å and H_RC below 18500 Å (rest frame)
LC_PHASES = np.array([-9.0, -5.0, -1.0, 3.0, 7.5, 12.0, 18.0, 25.0, 33.0, 42.0, 52.0,
                      62.0, 71.0, 80.0])  # fmt: skip
SIM_PHASES = np.array([-8.0, -2.5, 4.0, 9.0, 15.0, 30.0, 45.0, 60.0, 72.0, 80.0])
# (not 9 phases: simulate_light_curve reads as many phases as bands as one band each)


def load_model(path):
    from bayesn import SEDmodel

    with contextlib.redirect_stdout(io.StringIO()):
        return SEDmodel(load_model=path)


def check_coverage(model, z):
    """Every band inside the model's rest range at every redshift (bayesn's 1% limits)."""
    l0, l1 = float(model.l_knots[0]), float(model.l_knots[-1])
    for b in BANDS:
        lo, hi = model.band_lim_dict[b]
        if not (np.all(z <= lo / l0 - 1) and np.all(z >= hi / l1 - 1)):
            raise SystemExit(f"{b} leaves {l0:.0f}-{l1:.0f} Å at some z in {z.min()}-{z.max()}")


def light_curve_part(model, rng, n_sn=30):
    """bayesn's get_flux_batch on padded light curves (bayesn_arrays sets the model's
    used bands: pass a copy)."""
    z = rng.uniform(*Z_RANGE, n_sn)
    check_coverage(model, z)
    ebv = rng.uniform(0.0, 0.2, n_sn)
    sne = []
    for k in range(n_sn):
        # each SN its own epochs: jittered whole days, some exactly on a day (Hsiao's grid)
        t = np.tile(LC_PHASES, len(BANDS)) + rng.uniform(-0.6, 0.6, LC_PHASES.size * len(BANDS))
        t = np.clip(np.where(rng.uniform(size=t.size) < 0.2, np.round(t), t), -9.9, 80.9)
        band = np.repeat(np.array(BANDS), LC_PHASES.size)
        n = rng.integers(int(0.8 * t.size), t.size + 1)  # ragged: padding in bayesn's arrays
        sne.append(dict(t=t[:n], band=band[:n], z=z[k], ebv=ebv[k]))
    nk = (model.l_knots.shape[0] - 2) * model.tau_knots.shape[0]
    theta = rng.normal(size=n_sn)
    av = rng.exponential(0.4, size=n_sn)
    rv = rng.uniform(1.3, 5.5, size=n_sn)
    e = rng.normal(size=(n_sn, nk))
    ds = rng.uniform(33.0, 38.0, size=n_sn)
    t, band_idx, mask, J_t, hsiao, weights = bayesn_arrays(model, sne, BANDS)
    flux = model.get_flux_batch(
        model.M0, theta, av, model.W0, model.W1, eps_from_e(model, e), ds, rv,
        band_idx, mask, J_t, hsiao, weights,
    )  # fmt: skip
    flux = np.asarray(flux)  # (n_obs, n_sn)
    return {
        "lc_z": z,
        "lc_ebv": ebv,
        "lc_obs_sn": np.concatenate([np.full(len(s["t"]), k) for k, s in enumerate(sne)]),
        "lc_phase": np.concatenate([s["t"] for s in sne]),
        "lc_band": np.concatenate([s["band"] for s in sne]),
        "lc_flux": np.concatenate([flux[: len(s["t"]), k] for k, s in enumerate(sne)]),
        "lc_theta": theta,
        "lc_AV": av,
        "lc_RV": rv,
        "lc_e": e,
        "lc_Ds": ds,
    }


def simulated_part(model, rng, n_sn=20):
    z = rng.uniform(*Z_RANGE, n_sn)
    check_coverage(model, z)
    nk = (model.l_knots.shape[0] - 2) * model.tau_knots.shape[0]
    params = dict(
        theta=rng.normal(size=n_sn),
        AV=rng.exponential(0.4, size=n_sn),
        RV=rng.uniform(1.3, 5.5, size=n_sn),  # required: a pop_RV model has no global RV
        del_M=rng.normal(0.0, 0.1, size=n_sn),
        ebv_mw=rng.uniform(0.0, 0.2, size=n_sn),
        tmax=rng.uniform(-1.5, 1.5, size=n_sn),  # phase - tmax stays inside -10...+85 d
        e=rng.normal(size=(n_sn, nk)),
    )
    return simulate_with_bayesn(model, SIM_PHASES, BANDS, z, params)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("model")
    parser.add_argument("--seed", type=int, default=20250611)
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    model = load_model(args.model)
    out = {
        "model_type": np.array(model.model_type),
        "mu_R": np.asarray(model.mu_R),
        "sigma_R": np.asarray(model.sigma_R),
        "tau_knots": np.asarray(model.tau_knots),
        "l_knots": np.asarray(model.l_knots),
        "has_RV": np.array(hasattr(model, "RV")),
    }
    out.update(light_curve_part(copy.deepcopy(model), rng))
    out.update(simulated_part(model, rng))
    np.savez(os.path.join(args.out, "G25_85day.npz"), **out)
    print(
        f"G25_85day ({out['model_type']}): {out['lc_flux'].size} light-curve points, "
        f"{out['sim_flux'].shape} simulated",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
