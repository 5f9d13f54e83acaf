"""bayesn 0.4.0's log densities and gradients at given physical parameter values.

Run in its own process (bayesn flips ``jax_enable_x64`` at import). Reads an npz of
light curves (rest-frame phases, bands, FLUXCAL, errors, redshifts, Milky Way E(B−V), host
masses) and of parameter points, and writes, for each of bayesn's four dust models and
its two fit models, the log joint density of the *physical* values and its gradient.

bayesn's NumPyro models sample some parameters through transforms (σ0 = 0.1 tan s,
τ_A = tan s, R_V = TN-iCDF(u), ε = L_Σ e). ``numpyro.infer.util.log_density`` gives the
joint density of those sample sites; the density of the physical values is that plus
log|det ∂sites/∂values|, computed here by autodiff of bayesn's own transforms. In the
mass-split models bayesn also samples the *other* bin's A_V and R_V for every SN; those
enter only through their priors, which are subtracted (u-sites contribute log 1 = 0; the
unused A_V its Exp(1/τ_A) log density), leaving the density sndust defines.

Usage: python bayesn_log_density.py INPUT.npz OUTPUT.npz
"""

from __future__ import annotations

import contextlib
import io
import sys

import numpy as np

MODELS = ("dust", "redshift", "split_mag", "split_sed", "fit_global", "fit_pop")


def build(model, data):
    """Set bayesn's internal arrays for these light curves (as process_dataset would)."""
    import jax.numpy as jnp

    bands = [str(b) for b in data["bands"]]
    t, mask = data["t"].T, data["mask"].T.astype(float)  # bayesn: (n_obs, n_sn)
    n_obs, n_sn = t.shape
    idx = np.array(
        [
            [bands.index(str(b)) if m else 0 for b, m in zip(row, mrow)]
            for row, mrow in zip(data["band"], data["mask"])
        ]
    ).T
    model.used_band_inds = np.array([model.band_dict[b] for b in bands])
    model.zps = model.zps[model.used_band_inds]
    model.offsets = model.offsets[model.used_band_inds]
    z = data["z"]
    obs = np.zeros((10, n_obs, n_sn))
    obs[0] = t
    obs[1] = np.where(mask > 0, data["flux"].T, 0.0)
    obs[2] = np.where(mask > 0, data["err"].T, 1.0)
    obs[3] = data["mass"][None, :]
    obs[4] = idx
    obs[5] = z[None, :]
    obs[6] = data["z_err"][None, :]
    obs[7] = np.asarray(model.cosmo.distmod(z).value)[None, :]
    obs[8] = data["ebv"][None, :]
    obs[9] = mask
    model.data = jnp.array(obs)
    weights = model._calculate_band_weights(jnp.array(z), jnp.array(data["ebv"]))
    J_t = model.J_t_map(t.flatten(order="F"), model.tau_knots, model.KD_t)
    model.J_t = J_t.reshape((n_obs, n_sn, model.tau_knots.shape[0]), order="F").transpose(1, 2, 0)
    model.hsiao_interp = jnp.array([19 + np.floor(t), 19 + np.ceil(t), np.remainder(t, 1)])
    return model.data, weights, obs[7, 0]


def natural_log_density(model, which, obs, weights, high):
    """f(values) = log p(values) for bayesn model ``which`` (see module docstring)."""
    import jax.numpy as jnp
    from jax.scipy.stats import norm
    from numpyro.infer.util import log_density

    fn = {
        "dust": model.dust_model,
        "redshift": model.dust_redshift_model,
        "split_mag": model.dust_model_split_mag,
        "split_sed": model.dust_model_split_sed,
        "fit_global": model.fit_model_globalRV,
        "fit_pop": model.fit_model_popRV,
    }[which]
    z = obs[5, 0]

    def u_of(R, mu_mean, mu_trunc, sigma):
        # bayesn: R = mean + σ Φ⁻¹(Φ(α) + u(1 − Φ(α))), α = (1.2 − mu_trunc)/σ
        pa = norm.cdf((1.2 - mu_trunc) / sigma)
        return (norm.cdf((R - mu_mean) / sigma) - pa) / (1 - pa)

    def log_du(R, mu_mean, mu_trunc, sigma):
        import jax

        g = jax.vmap(jax.grad(u_of), in_axes=(0, 0, None, None))
        R, mu_mean = jnp.broadcast_arrays(R, mu_mean)
        return jnp.sum(jnp.log(g(R, mu_mean, mu_trunc, sigma)))

    def scale_site(value, c):  # value = c tan(s)
        s = jnp.arctan(value / c)
        return s, jnp.log(c / (c**2 + value**2))  # log ds/dvalue

    def f(p):
        sites = {"theta": p["theta"], "eps_tform": p["e"], "Ds": p["D"]}
        logj = 0.0
        if which.startswith("fit"):
            sites["AV"] = p["A_V"]
            sites["tmax"] = p["t_max"]
            if which == "fit_pop":
                sites["RV_tform"] = u_of(p["R_V"], model.mu_R, model.mu_R, model.sigma_R)
                logj += log_du(p["R_V"], model.mu_R, model.mu_R, model.sigma_R)
        elif which in ("dust", "redshift"):
            s, lj1 = scale_site(p["sigma0"], 0.1)
            t, lj2 = scale_site(p["tau_A"], 1.0)
            sites.update(sigma_R=p["sigma_R"], sigma0_tform=s, tauA_tform=t, AV=p["A_V"])
            logj += lj1 + lj2
            if which == "dust":
                sites["mu_R"] = p["mu_R"]
                mean = p["mu_R"]
            else:
                sites.update(mu_R_0=p["mu_R"], mu_grad=p["mu_R_grad"], tau_z_grad=p["tau_A_grad"])
                mean = p["mu_R"] + z * p["mu_R_grad"]
            sites["Rv_tform"] = u_of(p["R_V"], mean, p["mu_R"], p["sigma_R"])
            logj += log_du(p["R_V"], mean, p["mu_R"], p["sigma_R"])
        else:
            unused = 0.0
            for b, own in (("HM", high), ("LM", ~high)):
                s, lj1 = scale_site(p[f"sigma0_{b}"], 0.1)
                t, lj2 = scale_site(p[f"tau_A_{b}"], 1.0)
                logj += lj1 + lj2
                sites.update(
                    {
                        f"mu_R_{b}": p[f"mu_R_{b}"],
                        f"sigma_R_{b}": p[f"sigma_R_{b}"],
                        f"sigma0_{b}_tform": s,
                        f"tauA_{b}_tform": t,
                    }
                )
                # own-bin SNe carry their values; the others a fixed dummy (prior only)
                av = jnp.where(own, p["A_V"], 0.5)
                u = u_of(p["R_V"], p[f"mu_R_{b}"], p[f"mu_R_{b}"], p[f"sigma_R_{b}"])
                sites[f"AV_{b}"] = av
                sites[f"Rv_tform_{b}"] = jnp.where(own, u, 0.5)
                g = jnp.log(
                    jnp.abs(
                        jnp.vectorize(__import__("jax").grad(u_of), signature="(),(),(),()->()")(
                            p["R_V"], p[f"mu_R_{b}"], p[f"mu_R_{b}"], p[f"sigma_R_{b}"]
                        )
                    )
                )
                logj += jnp.sum(jnp.where(own, g, 0.0))
                rate = 1.0 / p[f"tau_A_{b}"]
                unused += jnp.sum(jnp.where(own, 0.0, jnp.log(rate) - rate * av))
                if which == "split_mag":
                    sites[f"M_step_{b}"] = p[f"M_step_{b}"]
                else:
                    sites[f"delW_{b}"] = p[f"delta_W0_{b}"].T.reshape(-1)  # bayesn: F order
            logj -= unused
        return log_density(fn, (obs, weights), {}, sites)[0] + logj

    return f


def main(inp, out):
    import jax
    from bayesn import SEDmodel

    data = dict(np.load(inp, allow_pickle=False))
    with contextlib.redirect_stdout(io.StringIO()):
        model = SEDmodel(load_model=f"{str(data['model'])}_model")
    obs, weights, muhat = build(model, data)
    model.mu_R = jax.numpy.array(float(data["fit_pop_mu_R"]))
    model.sigma_R = jax.numpy.array(float(data["fit_pop_sigma_R"]))
    high = jax.numpy.asarray(data["mass"] > 10.0)
    results = {"muhat": muhat}
    for which in MODELS:
        names = sorted({k.split("/")[1] for k in data if k.startswith(which + "/")})
        if not names:
            continue
        n_points = data[f"{which}/{names[0]}"].shape[0]
        vg = jax.jit(jax.value_and_grad(natural_log_density(model, which, obs, weights, high)))
        for k in range(n_points):
            p = {n: jax.numpy.asarray(data[f"{which}/{n}"][k]) for n in names}
            value, grad = vg(p)
            results.setdefault(f"{which}/logp", []).append(float(value))
            for n in names:
                results.setdefault(f"{which}/grad/{n}", []).append(np.asarray(grad[n]))
    np.savez(out, **{k: np.asarray(v) for k, v in results.items()})


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
