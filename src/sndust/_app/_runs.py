"""What ``sndust fit`` and ``sndust simulate`` do with a validated configuration (see
``_schema``); usable from Python as ``sndust.run_fit(load_config(...))``."""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import yaml

from .._errors import ConfigError, NotConverged
from ._config import (
    build_design,
    build_dust,
    build_population,
    build_sampler,
    build_sed,
    simulated_designs,
)
from ._report import FIGURES, per_sn_coverage, print_recovery, recovery_table, write_figures

__all__ = ["Interrupted", "load_survey", "run_fit", "run_simulate"]


def _say(quiet: bool):
    return (lambda *a: None) if quiet else (lambda *a: print(*a, flush=True))


# ----------------------------------------------------------------------------- simulate
def run_simulate(cfg: dict, *, quiet: bool = False) -> dict[str, Any]:
    """Simulate the configured survey and write it as SNANA text files, with
    ``truth.yaml`` (hyperparameters, design, model) and ``truths.csv`` (per-SN values).
    With ``simulate.surveys``, the surveys are drawn together from one population and
    each is written to a folder of its name, beside ``metadata.fitres`` (one row per SN:
    CID, SURVEY, IDSURVEY, zHD, zHEL, PKMJD, HOST_LOGMASS, MWEBV), as a compilation
    releases them."""
    import jax

    import sndust as sd

    say = _say(quiet)
    sim, out = cfg["simulate"], Path(cfg["output"]["dir"])
    names = None if sim["surveys"] is None else [entry["name"] for entry in sim["surveys"]]
    _writable(out)
    earlier = [out / "truth.yaml", out / "truths.csv", out / _METADATA, *sorted(out.glob("*.LIST"))]
    earlier += [path for name in names or () for path in sorted((out / name).glob("*.LIST"))]
    earlier = [str(path.relative_to(out)) for path in earlier if path.exists()]
    if earlier and not cfg["output"]["overwrite"]:
        raise ConfigError(
            f"{out} holds an earlier simulation ({', '.join(earlier)}): pass --overwrite to "
            "replace it, or choose another output.dir (nothing was written)",
            field="output.dir",
        )
    designs = list(simulated_designs(sim).values())
    sed = build_sed(sim["sed"], "simulate.sed")
    population = build_population(
        sim["population"], sim["population_options"], "simulate.population"
    )
    # names and values were checked by load_config; array hyperparameters are nested lists
    hyper = {str(k): np.asarray(v, np.float64) for k, v in sim["hyper"].items()}
    key, dust = jax.random.key(sim["seed"]), build_dust(sim, "simulate")
    try:
        if names is None:
            survey, truth = sd.simulate_survey(
                key, sed, population, n_sn=sim["n_sn"], hyper=hyper, design=designs[0], dust=dust
            )
        else:
            survey, truth = sd.simulate_surveys(
                key, sed, population, dict(zip(names, designs)), hyper=hyper, dust=dust,
                n_sn={entry["name"]: entry["n_sn"] for entry in sim["surveys"]},
            )  # fmt: skip
    except ConfigError as err:
        if err.message.startswith("unknown hyperparameters"):
            raise ConfigError(err.message, field=f"simulate.hyper.{err.field}") from None
        raise
    files = _search_peaks(survey, sim["header_peak_sd"], key)
    overwrite = cfg["output"]["overwrite"]
    if names is None:
        paths = files.to_snana(out, overwrite=overwrite)
    else:
        paths = []
        for name in names:
            part = files.select([i for i, s in enumerate(files.survey_name) if s == name])
            paths += part.to_snana(out / name, overwrite=overwrite)
        _write_metadata(survey, names, out / _METADATA)
    n = survey.n_sn
    # the values given, not their round trip through the sampler's coordinates
    scalars = {
        k: float(hyper[k] if k in hyper else np.asarray(v))
        for k, v in truth.items()
        if np.ndim(v) == 0
    }
    record = {
        "seed": sim["seed"],
        "n_sn": n,
        "sed": sim["sed"],
        "population": sim["population"],
        "population_options": sim["population_options"],
        "dust": sim["dust"],
        "hyper": scalars,
        "header_peak_sd": sim["header_peak_sd"],
    }
    if names is None:
        record["design"] = dataclasses.asdict(designs[0])
    else:
        record["surveys"] = [
            {"name": entry["name"], "n_sn": entry["n_sn"], "design": dataclasses.asdict(design)}
            for entry, design in zip(sim["surveys"], designs)
        ]
    (out / "truth.yaml").write_text(yaml.safe_dump(_plain(record), sort_keys=False))
    columns = {"SNID": np.asarray(survey.snid), "z_cmb": survey.z_cmb, "log_mass": survey.log_mass,
               "peak_mjd": survey.peak_mjd}  # fmt: skip
    if names is not None:
        columns = {"SNID": columns["SNID"], "SURVEY": np.asarray(survey.survey_name)} | columns
    for name, value in truth.items():
        v = np.asarray(value)
        if v.ndim == 1 and v.shape[0] == n:
            columns[name] = v
    from astropy.table import Table

    Table(columns).write(out / "truths.csv", format="ascii.csv", overwrite=True)
    said = ", ".join(f"{k} = {v:.3g}" for k, v in scalars.items())
    if names is None:
        say(
            f"simulated {n} SNe ({designs[0].name} design: {', '.join(survey.band_names)}; "
            f"z {survey.z_cmb.min():.3f}–{survey.z_cmb.max():.3f}; "
            f"{int(survey.mask.sum())} observations) with {said}"
        )
        say(f"wrote {len(paths)} SNANA files, {out.name}.LIST, truth.yaml and truths.csv to {out}")
    else:
        say(f"simulated {n} SNe in {len(names)} surveys with {said}:")
        for name, design in zip(names, designs):
            rows = np.asarray(survey.survey_name) == name
            z = survey.z_cmb[rows]
            say(
                f"  {name}: {int(rows.sum())} SNe ({design.name} design: "
                f"{', '.join(design.bands)}; z {z.min():.3f}–{z.max():.3f}; "
                f"{int(survey.mask[rows].sum())} observations) in {out / name}"
            )
        say(f"wrote {len(paths)} SNANA files, {_METADATA}, truth.yaml and truths.csv to {out}")
    return {"survey": survey, "truth": truth, "paths": paths}


#: The per-SN table a simulation of several surveys writes beside their folders.
_METADATA = "metadata.fitres"


def _search_peaks(survey, sd_days: float, key):
    """``survey`` as its files tell it: peak dates scattered by ``sd_days`` about the
    true ones (a search's estimate), the true ones kept for the metadata table."""
    if sd_days == 0:
        return survey
    import jax

    seed = np.asarray(jax.random.key_data(jax.random.fold_in(key, 2))).ravel()[-1]
    scatter = np.random.default_rng(seed).normal(0.0, sd_days, survey.n_sn)
    return dataclasses.replace(survey, peak_mjd=survey.peak_mjd + scatter)


def _write_metadata(survey, names: list[str], path: Path) -> None:
    """``metadata.fitres``: each SN's survey (name and number), redshifts, true peak
    date, host mass and Milky Way E(B−V), one row per SN."""
    from astropy.table import Table

    from .._fitres import write_fitres

    number = {name: k + 1 for k, name in enumerate(names)}
    table = Table(
        {
            "CID": list(survey.snid),
            "SURVEY": list(survey.survey_name),
            "IDSURVEY": [number[s] for s in survey.survey_name],
            "zHD": survey.z_cmb,
            "zHEL": survey.z_hel,
            "PKMJD": survey.peak_mjd,
            "HOST_LOGMASS": survey.log_mass,
            "MWEBV": survey.mwebv,
        }
    )
    surveys = ", ".join(f"{k} {name}" for name, k in number.items())
    write_fitres(table, path, comments=(f"sndust simulate: IDSURVEY {surveys}",))


def _plain(value):
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


# ----------------------------------------------------------------------------- fit
def load_surveys(entries: list[dict]):
    """The surveys a ``surveys:`` list names, each read (:func:`load_survey`) and cut by
    its own ``cuts``, combined by ``Survey.concat`` under their names (before the
    configuration's common cuts)."""
    import sndust as sd

    surveys = []
    for i, entry in enumerate(entries):
        survey = load_survey(entry, f"surveys.{i}")
        try:
            survey = survey.cut(**_cut_arguments(entry["cuts"]))
        except ConfigError as err:
            raise ConfigError(err.message, field=f"surveys.{i}.cuts.{err.field}") from None
        surveys.append(survey)
    return sd.Survey.concat(*surveys, names=[entry["name"] for entry in entries])


def _cut_arguments(cuts: dict) -> dict:
    """Keyword arguments of ``Survey.cut`` from a validated cuts section."""
    out = {k: v for k, v in cuts.items() if v is not None}
    if "phase_window" in out:
        out["phase_window"] = tuple(out["phase_window"])
    return out


def load_survey(section: dict, where: str = "survey"):
    """The survey a ``survey:`` section (or an entry of ``surveys:``, at dotted key
    ``where``) names (before cuts)."""
    import sndust as sd

    paths = section["path"] if isinstance(section["path"], list) else [section["path"]]
    try:
        if section["format"] == "bayesn_table":
            if len(paths) != 1 or section["pattern"] is not None:
                raise ConfigError("a bayesn_table survey is one table file", field="path")
            survey = sd.Survey.from_bayesn_table(paths[0], bands=section["bands"])
        else:
            survey = sd.Survey.from_snana(
                paths,
                section["bands"],
                peak_mjd_key=section["peak_mjd_key"],
                missing=section["missing"],
                pattern=section["pattern"],
                reject_photflag=section["reject_photflag"],
            )
    except ConfigError as err:  # the reader's arguments are this section's keys
        own = ("path", "pattern", "missing", "reject_photflag")
        field = f"{where}.{err.field}" if err.field in own else err.field
        raise ConfigError(err.message, file=err.file, line=err.line, field=field) from None
    table = section["peak_table"]
    if table is not None:
        folder = Path(paths[0]) if Path(paths[0]).is_dir() else Path(paths[0]).parent
        file = folder / table if Path(table).name == table else Path(table)
        if not file.is_file():
            raise ConfigError(f"no such file: {file}", field=f"{where}.peak_table")
        survey = survey.with_peaks(file, section["peak_column"])
    if section["metadata_table"] is not None:
        sentinels = section["mass_sentinels"]
        if not isinstance(sentinels, list) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in sentinels
        ):
            raise ConfigError(
                f"expected a list of numbers, got {sentinels!r}", field=f"{where}.mass_sentinels"
            )
        try:
            survey = survey.with_metadata(
                section["metadata_table"],
                match=section["metadata_match"] or None,
                columns=section["metadata_columns"],
                mass_sentinels=sentinels,
            )
        except ConfigError as err:
            raise ConfigError(err.message, field=f"{where}.metadata_{err.field}") from None
    return survey


def _simulated(section: dict, model: dict, say):
    """The survey a ``survey.simulate`` section draws, and its truth."""
    import jax

    import sndust as sd

    sim = section["simulate"]
    sed = build_sed(model["sed"])
    population = build_population(
        sim["population"], sim["population_options"], "survey.simulate.population"
    )
    design = build_design(sim["design"] or {}, "survey.simulate.design")
    hyper = {str(k): np.asarray(v, np.float64) for k, v in sim["hyper"].items()}
    survey, truth = sd.simulate_survey(
        jax.random.key(sim["seed"]), sed, population, n_sn=sim["n_sn"], hyper=hyper,
        design=design, dust=build_dust(model),
    )  # fmt: skip
    say(
        f"simulated {survey.n_sn} SNe ({model['sed']}, {', '.join(survey.band_names)}; "
        f"{sim['population']}: "
        + ", ".join(f"{k} = {float(v):g}" for k, v in truth.items() if np.ndim(v) == 0)
        + ")"
    )
    return survey, truth


class Built(NamedTuple):
    """What a fit configuration describes: the survey after cuts, its model, the truth
    where known, the number of SNe read, the SED model and the dust law."""

    survey: Any
    model: Any
    truth: dict | None
    n_read: int
    sed: Any
    dust: Any


def build_model(cfg: dict, say=None) -> Built:
    """The survey (read or simulated, then cut) and hierarchical model a validated fit
    configuration describes."""
    import sndust as sd

    say = say or _say(True)
    m = cfg["model"]
    truth = None
    if cfg["survey"]["simulate"] is not None and not cfg.get("surveys"):
        survey, truth = _simulated(cfg["survey"], m, say)
    else:
        several = cfg.get("surveys")
        survey = load_surveys(several) if several else load_survey(cfg["survey"])
        beside = _truth_beside(several or [cfg["survey"]])
        truth = None if beside is None else beside["hyper"]
    n_read = survey.n_sn
    population = build_population(m["population"], m["population_options"])
    needed = {
        name: f"{type(population).__name__} needs it"
        for name in population.host_fields
        if name in sd.Survey.__dataclass_fields__
    }
    survey = survey.cut(**_cut_arguments(cfg["cuts"]), require=needed or None)
    sed = build_sed(m["sed"])
    dust = build_dust(m)
    model = sd.HierarchicalModel(
        sed=sed, survey=survey, population=population, dust=dust, dtype=m["dtype"],
        milky_way=build_dust(m, milky_way=True), milky_way_R_V=m["milky_way_R_V"],
    )  # fmt: skip
    return Built(survey, model, truth, n_read, sed, dust)


def model_of_run(run: str | Path):
    """The model a run of ``sndust fit`` sampled, rebuilt from the ``config.yaml`` its
    command wrote beside ``run`` (its netCDF file).

    Raises:
        ConfigError: no ``config.yaml`` beside it (naming the path).
    """
    config = Path(run).parent / "config.yaml"
    if not config.is_file():
        raise ConfigError(
            f"{run}: no config.yaml beside it to rebuild the run's model (sndust fit writes "
            "one into its output folder); pass --pointwise for PSIS-LOO of the stored "
            "per-SN likelihood instead",
            field="runs",
        )
    from ._config import load_config

    return build_model(load_config(config, "fit")).model


def run_fit(cfg: dict, *, resume: bool = False, quiet: bool = False) -> dict[str, Any]:
    """Read (or simulate), cut, fit and report the configured survey; write the run's
    files to ``output.dir``: ``NAME.nc`` (``output.name``, default ``run``),
    ``distances.FITRES``, ``summary.json`` (wall time, convergence, R-hat and ESS),
    ``survey_report.txt``, ``config.yaml``, figures, and ``NAME.h5`` while sampling. A
    run whose chains have not converged says so, naming the parameters, and with
    ``output.require_convergence`` raises :class:`NotConverged` once its files are
    written. A simulated survey's truth, or ``truth.yaml`` beside the light
    curves, is printed against the posterior."""
    import jax

    import sndust as sd

    say = _say(quiet)
    t_start = time.perf_counter()
    s, m = cfg["sampler"], cfg["model"]
    out = Path(cfg["output"]["dir"])
    stem = cfg["output"]["name"]
    checkpoint = out / f"{stem}.h5"
    if not cfg["output"]["checkpoint"] or s["method"] == "MAP":
        checkpoint = None
    earlier = _check_output(out, stem, checkpoint, resume, cfg["output"]["overwrite"])

    survey, model, truth, n_read, sed, dust = build_model(cfg, say)
    sampler = None if s["method"] == "MAP" else build_sampler(s)
    _check_memory(s, model, sampler)

    def describe():  # the run's own description, beside its results
        (out / "survey_report.txt").write_text(
            survey.report() + "\n\n" + model.prepared.report() + "\n"
        )
        (out / "config.yaml").write_text(yaml.safe_dump(_plain(cfg), sort_keys=False))

    if not resume:  # every check has passed: the earlier run's files go, this run's come
        for path in earlier:
            path.unlink()
        describe()
    say(
        f"{n_read} SNe read, {survey.n_sn} after cuts, {model.n_sn} fitted "
        f"({int(np.asarray(model.prepared.observed_mask()).sum())} observations; every drop "
        f"with its reason in {out / 'survey_report.txt'}); {model.dim} parameters; "
        f"{m['sed']} + {m['population']}; devices: {len(jax.devices())} × "
        f"{jax.devices()[0].platform}"
    )

    key = jax.random.key(s["seed"])
    k_map, k_run = jax.random.split(key)
    start = None
    if not resume and (s["method"] == "MAP" or s["init"] in ("map", "per_sn")):
        t0 = time.perf_counter()
        if s["method"] != "MAP" and s["init"] == "per_sn":
            from .._sampling._population_start import population_start

            fitted = population_start(
                model, k_map, chains=s["chains"], map_starts=s["map_starts"],
                steps=s["map_steps"],
            )  # fmt: skip
            start, what = fitted, "per-SN fits, then the population fitted to them"
            at = model.with_anchors(fitted.anchors).constrain(fitted.position)
        else:
            fit = sd.MAP(steps=s["map_steps"], starts=s["map_starts"]).run(model, k_map)
            start, what = fit.position, "MAP"
            at = model.constrain(start)
        say(
            f"start: {what} ({time.perf_counter() - t0:.1f} s)"
            + "".join(f", {k} = {float(at[k]):.3f}" for k in model.hyper_names if at[k].ndim == 0)
        )
    if s["method"] == "MAP":
        t0 = time.perf_counter()
        try:
            approx = sd.laplace(model, start)
        except sd.ModelError as err:  # a ridge, not a peak: say what to do instead
            raise sd.ModelError(
                f"MAP+Laplace: the joint MAP after {s['map_steps']} steps is not a peak the "
                f"Laplace approximation can describe ({err.message.split(':')[0]}). A "
                "hierarchical model's joint mode often lies where a scatter (sigma0, "
                "sigma_R) runs to zero; sample the posterior instead (sampler.method: NUTS "
                "or AdjustedMCLMC)",
                field="sampler.method",
            ) from None
        draws = approx.sample(k_run, s["samples"])[None]
        seconds = {"warmup": 0.0, "sampling": time.perf_counter() - t0}
        post = sd.Posterior.from_draws(
            model, draws, method="MAP+Laplace",
            settings={"name": "MAP+Laplace", "steps": s["map_steps"]}, seconds=seconds,
            key=k_run,
        )  # fmt: skip
    else:
        # resumed: the checkpoint holds the starts (they are not recomputed)
        init = None if resume else (start if start is not None else s["init"])
        try:
            post = sampler.run(
                model, k_run, chains=s["chains"], init=init, checkpoint=checkpoint,
                resume=resume, batch=s["batch"], progress=not quiet,
                precondition=s["precondition"], extend_warmup=s["extend_warmup"],
            )  # fmt: skip
        except KeyboardInterrupt:
            saved = checkpoint is not None and checkpoint.exists()
            raise Interrupted(checkpoint if saved else None) from None
    if resume:  # the checkpoint accepted this configuration
        describe()
    post.to_netcdf(out / f"{stem}.nc")
    post.to_fitres(out / "distances.FITRES")
    say("")
    report = post.report(verdict=False)  # said last, after the files
    if truth is None:
        say(report)
    else:  # the summary's rows, each beside its truth
        say(report.splitlines()[0])
        rows = recovery_table(post, truth)
        print_recovery(rows, say)
        if cfg["survey"]["simulate"] is not None:  # per-SN truths too
            coverage = per_sn_coverage(post, truth)
            say(
                "per-SN truths inside their 95% intervals: "
                + ", ".join(f"{k} {100 * v:.0f}%" for k, v in coverage.items())
                + f"; divergences {post.divergences}"
            )
    written = [out / f"{stem}.nc", out / "distances.FITRES"]
    if cfg["output"]["plots"]:
        hyper_truth = None if truth is None else {r["name"]: r["truth"] for r in rows}
        written += write_figures(
            post,
            out,
            truth=hyper_truth,
            survey=survey,
            sed=sed,
            dust=dust,
            milky_way=model.prepared.info.milky_way,
            n_lc=cfg["output"]["light_curves"],
        )
    wall = time.perf_counter() - t_start
    check = post.convergence()
    written.append(write_summary(out / "summary.json", post, check, truth, wall))
    say("wrote " + ", ".join(str(p) for p in written))
    say(f"total {wall:.0f} s")
    if check["converged"] is not None:
        say(check["verdict"])
    if check["converged"] is False and cfg["output"]["require_convergence"]:
        raise NotConverged(check, out / "summary.json")
    return {
        "posterior": post,
        "model": model,
        "survey": survey,
        "seconds": time.perf_counter() - t_start,
    }


def write_summary(path: Path, post, check: dict, truth: dict | None, wall: float) -> Path:
    """``summary.json``: the run's wall time, whether it converged and, per
    hyperparameter (or per-SN parameter of a fit), the posterior mean, sd, 95% HDI,
    R-hat and ESS, beside its truth where known; the population's derived quantities
    under ``derived``."""
    rows = {}
    for name, entry in check["parameters"].items():
        row = dict(entry)
        if truth is not None and name in truth and not np.ndim(truth[name]):
            row = {"truth": float(truth[name])} | row
        rows[name] = row
    a = post.posterior.attrs
    summary = {
        "wall_s": round(float(wall), 2),
        "sampler": a.get("sampler"),
        "chains": int(post.posterior.sizes["chain"]),
        "draws": int(post.posterior.sizes["draw"]),
        "divergences": post.divergences,
        "converged": check["converged"],
        "warmup_rhat": check["warmup_rhat"],
        "warmup_extensions": check["warmup_extensions"],
        "criteria": check["criteria"],
        "not_converged": check["failing"],
        "hyper" if post.hyper_names else "per_sn": rows,
    }
    if post.derived_names:  # the population's derived quantities (not convergence criteria)
        table = post.summary(list(post.derived_names), hdi_prob=0.95, round_to="none")
        summary["derived"] = {
            name: {
                "mean": float(r["mean"]),
                "sd": float(r["sd"]),
                "hdi_95": [float(r["hdi_2.5%"]), float(r["hdi_97.5%"])],
                "rhat": float(r["r_hat"]),
                "ess_bulk": float(r["ess_bulk"]),
            }
            for name, r in table.iterrows()
        }
    path.write_text(json.dumps(_strict_json(summary), indent=2, allow_nan=False) + "\n")
    return path


def _strict_json(value):
    """``value`` with every NaN or infinite float as None (JSON has no NaN: a one-chain
    or constant parameter's R-hat is undefined)."""
    if isinstance(value, dict):
        return {k: _strict_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_strict_json(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


class Interrupted(KeyboardInterrupt):
    """A fit stopped by Ctrl-C; ``checkpoint`` is the file that holds it so far (None
    when none was written)."""

    def __init__(self, checkpoint: Path | None):
        super().__init__(checkpoint)
        self.checkpoint = checkpoint


def _outputs(out: Path, stem: str) -> list[Path]:
    """The files of a fit's results in ``out`` (its description, ``config.yaml`` and
    ``survey_report.txt``, is replaced by a new run when no results exist)."""
    names = [f"{stem}.nc", f"{stem}.h5", "distances.FITRES", "summary.json", *FIGURES]
    return [out / name for name in names]


def _check_output(
    out: Path, stem: str, checkpoint: Path | None, resume: bool, overwrite: bool
) -> list[Path]:
    """Refuse an output folder that cannot be written, or that holds an earlier run's
    results unless ``overwrite`` (replace them) or ``resume`` (continue its checkpoint)
    says what to do with them; returns the files a fresh run replaces. Nothing in the
    folder is written here (an empty folder may be created to learn it is writable)."""
    if resume and overwrite:
        raise ConfigError("--resume and --overwrite exclude each other", field="output.overwrite")
    if resume and (checkpoint is None or not checkpoint.exists()):
        raise ConfigError(
            f"nothing to resume: no checkpoint {out / f'{stem}.h5'}", field="output.dir"
        )
    _writable(out)
    earlier = [path for path in _outputs(out, stem) if path.exists()]
    if earlier and not (resume or overwrite):
        names = ", ".join(path.name for path in earlier)
        hint = f", --resume to continue {stem}.h5" if checkpoint in earlier else ""
        raise ConfigError(
            f"{out} holds the results of an earlier run ({names}): pass --overwrite to "
            f"replace them{hint}, or choose another output.dir (nothing was written)",
            field="output.dir",
        )
    return [] if resume else earlier


def _writable(out: Path) -> None:
    """Refuse an output folder that is a file or cannot be written (creating it, empty,
    if it does not exist)."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out} is a file, not a folder", field="output.dir")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as err:
        reason = err.strerror or str(err)
        raise ConfigError(f"cannot write in {out}: {reason}", field="output.dir") from None


def _check_memory(s: dict, model, sampler) -> None:
    """Refuse draws that cannot fit in this machine's memory, before any work."""
    kept = s["samples"] if sampler is None else sampler.num_samples
    chains = 1 if sampler is None else s["chains"]
    need = chains * kept * model.dim * np.dtype(model.prepared.obs_fluxcal.dtype).itemsize
    try:
        have = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return
    if need > have:
        raise ConfigError(
            f"{chains} chains × {kept:,} draws × {model.dim:,} parameters need "
            f"{need / 1e9:,.0f} GB for the draws alone, more than this machine's "
            f"{have / 1e9:,.0f} GB of memory: keep fewer draws (or thin them)",
            field="sampler.samples",
        )


def _truth_beside(sections: list[dict]) -> dict | None:
    """``truth.yaml`` written by ``sndust simulate`` beside the light curves, if any: in
    the survey's folder, or (a survey of a simulated set) in the folder above; several
    surveys must share one."""
    files = set()
    for section in sections:
        paths = section["path"] if isinstance(section["path"], list) else [section["path"]]
        if len(paths) != 1 or not Path(paths[0]).is_dir():
            return None
        folder = Path(paths[0]).resolve()
        file = next((f for f in (folder / "truth.yaml", folder.parent / "truth.yaml")
                     if f.is_file()), None)  # fmt: skip
        if file is None:
            return None
        files.add(file)
    if len(files) != 1:
        return None
    file = files.pop()
    try:
        truth = yaml.safe_load(file.read_text())
    except yaml.YAMLError:
        return None
    if not isinstance(truth, dict) or not isinstance(truth.get("hyper"), dict):
        return None
    if file.parent != Path(sections[0]["path"]).resolve() and "surveys" not in truth:
        return None  # the folder above is a simulated set's only when it says so
    return truth
