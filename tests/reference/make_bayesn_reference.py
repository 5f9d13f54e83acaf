"""Generate reference FLUXCAL from bayesn 0.4.0 (the reference implementation).

Run in its own process: bayesn switches on ``jax_enable_x64`` at import and must never be
imported into the sndust test process. The parity tests call this script through
``subprocess`` and compare sndust against what it writes.

For each model it writes ``<out>/<MODEL>.npz`` with two parts:

* ``fnd_*``: the Foundation DR1 light curves (read here with sncosmo, independently of
  sndust's readers), BayeSN's cuts (−10 < t < 40 d, band coverage), and for each of
  ``--draws`` random parameter draws bayesn's ``SEDmodel.get_flux_batch`` FLUXCAL;
* ``sim_*``: a survey simulated with ``SEDmodel.simulate_light_curve`` (noise-free FLUXCAL)
  with random θ, A_V, R_V, ε, δM, Milky Way E(B−V) and time of maximum.

Usage: python make_bayesn_reference.py OUT_DIR FOUNDATION_DIR [--models T21 W22 M20] [--draws 3]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import glob
import io
import os
import sys

import numpy as np

PS1 = {"g": "g_PS1", "r": "r_PS1", "i": "i_PS1", "z": "z_PS1"}


def read_foundation(folder):
    import sncosmo

    out = []
    for path in sorted(glob.glob(os.path.join(folder, "Foundation_DR1_*.txt"))):
        meta, tables = sncosmo.read_snana_ascii(path, default_tablename="OBS")
        obs = tables["OBS"]
        out.append(
            dict(
                snid=str(meta["SNID"]),
                z=float(meta["REDSHIFT_HELIO"]),
                ebv=float(meta["MWEBV"]),
                peak=float(meta["SEARCH_PEAKMJD"]),
                mjd=np.asarray(obs["MJD"], float),
                band=np.array([PS1[str(b)] for b in obs["FLT"]]),
            )
        )
    return out


def bayesn_arrays(model, sne, used):
    """bayesn's internal arrays for these SNe (what process_dataset would build)."""
    import jax.numpy as jnp

    n_sn = len(sne)
    n_obs = max(len(s["t"]) for s in sne)
    t = np.zeros((n_obs, n_sn))
    band_idx = np.zeros((n_obs, n_sn), int)
    mask = np.zeros((n_obs, n_sn))
    for k, s in enumerate(sne):
        n = len(s["t"])
        t[:n, k] = s["t"]
        band_idx[:n, k] = [used.index(b) for b in s["band"]]
        mask[:n, k] = 1
    model.used_band_inds = np.array([model.band_dict[b] for b in used])
    model.zps = model.zps[model.used_band_inds]
    model.offsets = model.offsets[model.used_band_inds]
    z = jnp.array([s["z"] for s in sne])
    ebv = jnp.array([s["ebv"] for s in sne])
    weights = model._calculate_band_weights(z, ebv)
    J_t = model.J_t_map(t.flatten(order="F"), model.tau_knots, model.KD_t)
    J_t = J_t.reshape((n_obs, n_sn, model.tau_knots.shape[0]), order="F").transpose(1, 2, 0)
    hsiao = jnp.array([19 + np.floor(t), 19 + np.ceil(t), np.remainder(t, 1)])
    return t, band_idx, mask, J_t, hsiao, weights


def eps_from_e(model, e):
    n_sn = e.shape[0]
    nl, nt = model.l_knots.shape[0], model.tau_knots.shape[0]
    eps = np.asarray(model.L_Sigma) @ e.T
    eps = np.reshape(eps.T, (n_sn, nl - 2, nt), order="F")
    full = np.zeros((n_sn, nl, nt))
    full[:, 1:-1, :] = eps
    return full


def load_model(name):
    from bayesn import SEDmodel

    with contextlib.redirect_stdout(io.StringIO()):
        return SEDmodel(load_model=f"{name}_model")


def foundation_part(model, folder, draws, rng):
    """(bayesn_arrays sets the model's used bands: pass a copy)"""
    lo_t, hi_t = float(model.tau_knots.min()), float(model.tau_knots.max())
    l0, l1 = float(model.l_knots[0]), float(model.l_knots[-1])
    sne, used = [], []
    for s in read_foundation(folder):
        t = (s["mjd"] - s["peak"]) / (1 + s["z"])
        keep = (t > lo_t) & (t < hi_t)
        for b in np.unique(s["band"]):
            lim = model.band_lim_dict[b]
            if s["z"] > lim[0] / l0 - 1 or s["z"] < lim[1] / l1 - 1:
                keep &= s["band"] != b
        if not keep.any():
            continue
        s = dict(s, t=t[keep], mjd=s["mjd"][keep], band=s["band"][keep])
        sne.append(s)
        used += [b for b in np.unique(s["band"]) if b not in used]
    n_sn = len(sne)
    nk = (model.l_knots.shape[0] - 2) * model.tau_knots.shape[0]
    names = [b for b in model.band_dict if b != "NULL_BAND"]
    out = {
        "zp_names": np.array(names),
        "zp_values": np.array([model.zp_dict[b] for b in names]),
        "zp_limits": np.array([model.band_lim_dict[b] for b in names]),
        "zp_offsets": np.array([float(model.offsets[model.band_dict[b]]) for b in names]),
        "fnd_snid": np.array([s["snid"] for s in sne]),
        "fnd_obs_sn": np.concatenate([np.full(len(s["t"]), k) for k, s in enumerate(sne)]),
        "fnd_obs_mjd": np.concatenate([s["mjd"] for s in sne]),
        "fnd_obs_band": np.concatenate([s["band"] for s in sne]),
    }
    t, band_idx, mask, J_t, hsiao, weights = bayesn_arrays(model, sne, used)
    for d in range(draws):
        theta = rng.normal(size=n_sn)
        av = rng.exponential(0.3, size=n_sn)
        rv = rng.uniform(1.3, 5.5, size=n_sn)
        e = rng.normal(size=(n_sn, nk))
        ds = rng.uniform(33.0, 37.0, size=n_sn)
        flux = model.get_flux_batch(
            model.M0,
            theta,
            av,
            model.W0,
            model.W1,
            eps_from_e(model, e),
            ds,
            rv,
            band_idx,
            mask,
            J_t,
            hsiao,
            weights,
        )
        flux = np.asarray(flux)  # (n_obs, n_sn)
        out[f"fnd_flux_{d}"] = np.concatenate([flux[: len(s["t"]), k] for k, s in enumerate(sne)])
        out.update(
            {
                f"fnd_theta_{d}": theta,
                f"fnd_AV_{d}": av,
                f"fnd_RV_{d}": rv,
                f"fnd_e_{d}": e,
                f"fnd_Ds_{d}": ds,
            }
        )
    return out


def simulated_part(model, name, rng, n_sn=40):
    if name == "T21":
        bands = ["g_PS1", "r_PS1", "i_PS1", "z_PS1"]
        z = rng.uniform(0.015, 0.08, n_sn)
    else:  # near-infrared models: optical + NIR bands at low redshift
        bands = ["B_CSP", "V_CSP", "r_CSP", "i_CSP", "Y_RC", "J_RC1", "H_RC"]
        z = rng.uniform(0.01, 0.04, n_sn)
    phases = np.array([-8.0, -3.5, 0.2, 4.0, 9.7, 15.0, 21.3, 28.0, 34.5])
    nk = (model.l_knots.shape[0] - 2) * model.tau_knots.shape[0]
    params = dict(
        theta=rng.normal(size=n_sn),
        AV=rng.exponential(0.3, size=n_sn),
        RV=rng.uniform(1.3, 5.5, size=n_sn),
        del_M=rng.normal(0.0, 0.1, size=n_sn),
        ebv_mw=rng.uniform(0.0, 0.2, size=n_sn),
        tmax=rng.uniform(-1.5, 1.5, size=n_sn),
        e=rng.normal(size=(n_sn, nk)),
    )
    return simulate_with_bayesn(model, phases, bands, z, params)


def simulate_with_bayesn(model, phases, bands, z, params):
    """bayesn's noise-free FLUXCAL (``SEDmodel.simulate_light_curve``) of one SN per
    redshift ``z``, at rest ``phases`` in every band, with the parameters ``params``
    (theta, AV, RV, del_M, ebv_mw, tmax and standard-normal e), as ``sim_*`` arrays."""
    with contextlib.redirect_stdout(io.StringIO()):
        flux, _, pdict = model.simulate_light_curve(
            phases, len(z), bands, yerr=0.0, z=z, mu="z", ebv_mw=params["ebv_mw"],
            RV=params["RV"], tmax=params["tmax"], del_M=params["del_M"], AV=params["AV"],
            theta=params["theta"], eps=eps_from_e(model, params["e"]), mag=False,
        )  # fmt: skip
    out = {f"sim_{k}": np.asarray(v) for k, v in params.items()}
    out.update(
        sim_z=z,
        sim_mu=np.asarray(pdict["mu"]),
        sim_phase=np.tile(phases, len(bands)),
        sim_band=np.repeat(np.array(bands), len(phases)),
        sim_flux=np.asarray(flux).T,  # (n_sn, n_obs)
    )
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("foundation")
    parser.add_argument("--models", nargs="+", default=["T21", "W22", "M20"])
    parser.add_argument("--draws", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20261122)
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    for k, name in enumerate(args.models):
        rng = np.random.default_rng(args.seed + k)
        # one model per process (its set-up compiles ~400 small programs, ~15 s); the
        # Foundation part changes the copy's band arrays, the simulation uses the original
        model = load_model(name)
        out = foundation_part(copy.deepcopy(model), args.foundation, args.draws, rng)
        out.update(simulated_part(model, name, rng))
        np.savez(os.path.join(args.out, f"{name}.npz"), **out)
        print(
            f"{name}: {len(out['fnd_snid'])} Foundation SNe, {out['sim_flux'].shape} simulated",
            file=sys.stderr,
        )


if __name__ == "__main__":
    main()
