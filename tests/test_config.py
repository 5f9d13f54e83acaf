"""YAML configurations of ``sndust fit`` / ``sndust simulate``: validation (every broken
config in tests/bad_configs/ gets an error naming file, line and key), overrides, the
example configs, and small end-to-end runs through the command line."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml
from astropy.table import Table
from helpers import sndust

import sndust as sd
from sndust._app._config import load_config
from sndust._app._runs import _truth_beside, load_survey, run_fit, run_simulate
from sndust._app._schema import example_configs

BAD = Path(__file__).parent / "bad_configs"


@dataclass(frozen=True)
class Bad:
    name: str
    says: str
    field: str | None = None
    line: int | None = None
    command: str = "fit"


SIM = "simulate"
BAD_CONFIGS = [
    Bad("unknown_key", "unknown key 'chians'; did you mean 'chains'?", "sampler.chians", 5),
    Bad("unknown_section", "unknown section 'sampling'; did you mean 'sampler'?", "sampling", 4),
    Bad("wrong_type_int", "expected a whole number, got 'many'", "sampler.warmup", 5),
    Bad("wrong_type_bool", "expected true or false, got 'yes please'", "output.plots", 6),
    Bad("wrong_type_float_for_int", "expected a whole number, got 2.5", "sampler.chains", 5),
    Bad("missing_required", "missing required key 'survey.path'", "survey.path", 2),
    Bad("missing_section", "missing section 'output'", "output"),
    Bad("missing_file", "no such file or folder", "survey.path", 3),
    Bad("unknown_population", "did you mean 'SinglePopulation'?", "model.population", 5),
    Bad("unknown_sed", "unknown SED model 'T22'", "model.sed", 5),
    Bad("unknown_sampler", "unknown value 'HMC'", "sampler.method", 5),
    Bad("reversed_window", "expected low < high", "cuts.phase_window", 5),
    Bad("bad_population_option", "spilt", "model.population_options", 6),
    Bad(
        "milky_way_R_V_of_a_fixed_curve",
        "Gordon03SMCBar is a fixed curve with R_V = 2.74; got R_V = 3.1",
        "model.milky_way_R_V",
        6,
    ),
    Bad("milky_way_unknown_law", "did you mean 'Gordon23'?", "model.milky_way", 5),
    Bad("unimportable_population", "cannot import", "model.population", 5),
    Bad("zero_chains", "expected a value >= 1, got 0", "sampler.chains", 5),
    Bad("not_yaml", "not valid YAML", None, 4),
    Bad("list_not_mapping", "expected a mapping of sections, got list"),
    Bad("empty", "empty config file"),
    Bad("bad_population_option_type", "expected a number", "model.population_options.split", 7),
    Bad("empty_module_population", "cannot import ':MyPopulation'", "model.population", 5),
    Bad("precondition_number", "unknown value '1'", "sampler.precondition", 5),
    Bad("simulate_design_field", "did you mean 'cadence'?", "simulate.design.cadense", 3, SIM),
    Bad("simulate_unknown_preset", "unknown survey preset 'sdss'", "simulate.design", 3, SIM),
    Bad("simulate_bad_design_value", "expected low < high", "simulate.design.z_range", 5, SIM),
    Bad("simulate_unknown_hyper", "did you mean 'mu_R'?", "simulate.hyper.mu_RR", 4, SIM),
    Bad("simulate_unknown_band", "unknown filter 'gX'", "simulate.design.bands", 5, SIM),
    Bad(
        "simulate_design_beside_surveys",
        "in each entry of simulate.surveys",
        "simulate.n_sn",
        2,
        SIM,
    ),
    Bad(
        "simulate_survey_name_path",
        "expected letters, digits, _ or -",
        "simulate.surveys.1.name",
        4,
        SIM,
    ),
    Bad(
        "simulate_survey_unknown_preset",
        "unknown survey preset 'sdss'",
        "simulate.surveys.1.design",
        4,
        SIM,
    ),
    Bad(
        "sampler_option_unknown",
        "unknown option of NUTS 'target_acept'; did you mean 'target_accept'?",
        "sampler.options.target_acept",
        7,
    ),
    Bad(
        "sampler_option_wrong_type",
        "expected a whole number, got 'deep'",
        "sampler.options.max_tree_depth",
        7,
    ),
    Bad(
        "sampler_option_out_of_range",
        "target_accept must be in (0, 1)",
        "sampler.options.target_accept",
        6,
    ),
    Bad(
        "sampler_option_reserved",
        "MCLMC's 'num_warmup' is set by sampler.warmup",
        "sampler.options.num_warmup",
        7,
    ),
    Bad(
        "sampler_not_a_sampler",
        "'collections:OrderedDict' is not a AbstractSampler subclass",
        "sampler.method",
        5,
    ),
    Bad("dust_option_unknown", "Fitzpatrick99 takes no options", "model.dust_options.R_V", 6),
    Bad("unknown_dust", "did you mean 'Fitzpatrick99'?", "model.dust", 5),
    Bad("survey_path_and_simulate", "not both", "survey.simulate", 4),
    Bad("survey_simulate_unknown_key", "did you mean 'n_sn'?", "survey.simulate.n_sne", 4),
    Bad("alias_bomb", "expands to more than 100,000 values"),
    Bad("alias_recursive", "an alias refers to a node that contains it", None, 2),
    Bad("deeply_nested", "nested too deeply"),
    Bad("seed_too_large", "expected a value <= 4294967295", "sampler.seed", 5),
    Bad("seed_negative", "expected a value >= 0, got -5", "sampler.seed", 5),
    Bad("samples_beyond_int32", "expected a value <= 2147483647", "sampler.samples", 5),
    Bad("warmup_huge", "expected a value <= 2147483647", "sampler.warmup", 5),
    Bad("bands_not_auto", "or auto, got 'automatic'", "survey.bands", 4),
    Bad(
        "bands_list",
        "expected a mapping (band in the files: sndust filter) or auto",
        "survey.bands",
        4,
    ),
    Bad("bands_value_not_string", "or auto, got dict", "survey.bands", 4),
    Bad("overwrite_not_bool", "expected true or false, got 'please'", "output.overwrite", 6),
    Bad("simulate_overwrite_not_bool", "expected true or false, got 1", "output.overwrite", 6, SIM),
    Bad("simulate_seed_too_large", "expected a value <= 4294967295", "survey.simulate.seed", 5),
    Bad("set_in_file_not_mapping", "expected a mapping of keys, got 'NUTS'", "sampler", 4),
]


@pytest.mark.parametrize("case", BAD_CONFIGS, ids=lambda c: c.name)
def test_bad_configs_name_file_line_and_key(case):
    path = BAD / f"{case.name}.yaml"
    with pytest.raises(sd.ConfigError) as info:
        load_config(path, case.command)
    err, text = info.value, str(info.value)
    assert case.says in text
    assert err.file == str(path)
    assert err.field == case.field
    assert err.line == case.line
    if case.line is not None:
        assert f"{case.name}.yaml:{case.line}" in text


def test_every_bad_config_file_is_checked():
    assert {p.stem for p in BAD.glob("*.yaml")} == {c.name for c in BAD_CONFIGS}
    assert len(BAD_CONFIGS) >= 10


def test_defaults_paths_and_overrides(tmp_path):
    (tmp_path / "lcs").mkdir()
    config = tmp_path / "run.yaml"
    config.write_text("survey: {path: lcs}\noutput: {dir: out}\nsampler: {chains: 3}\n")
    cfg = load_config(config, "fit")
    assert cfg["survey"]["path"] == str(tmp_path / "lcs")  # relative to the config file
    assert cfg["output"]["dir"] == str(tmp_path / "out")
    assert cfg["sampler"] == cfg["sampler"] | {"chains": 3, "method": "NUTS", "warmup": 500}
    assert cfg["cuts"]["z_min"] is None and cfg["model"]["sed"] == "T21"
    cfg = load_config(
        config, "fit", ["sampler.chains=2", "cuts.phase_window=[-10, 40]", "output.dir=elsewhere"]
    )
    assert cfg["sampler"]["chains"] == 2 and cfg["cuts"]["phase_window"] == [-10.0, 40.0]
    assert cfg["output"]["dir"] == str(Path.cwd() / "elsewhere")  # command line: the cwd
    for override, says, field in [
        ("sampler.chains=two", "expected a whole number, got 'two'", "sampler.chains"),
        ("sampler.chain=2", "did you mean 'chains'?", "sampler.chain"),
        ("sampling.chains=2", "did you mean 'sampler'?", "sampling"),
        ("model.population=Single", "unknown population", "model.population"),
        ("chains=2", "expected SECTION.KEY=VALUE", "--set"),
        ("model.population_options.spilt=10", "argument 'spilt'", "model.population_options"),
    ]:
        with pytest.raises(sd.ConfigError, match=None) as info:
            load_config(config, "fit", [override])
        assert says in str(info.value) and info.value.field == field, str(info.value)
        if field != "--set":
            assert info.value.file == "command line"


def test_nested_overrides(tmp_path):
    config = tmp_path / "sim.yaml"
    config.write_text("simulate: {design: des, n_sn: 5}\noutput: {dir: out}\n")
    cfg = load_config(
        config, "simulate", ["simulate.design.cadence=4.0", "simulate.hyper.tau_A=0.2"]
    )
    assert cfg["simulate"]["design"] == {"preset": "des", "cadence": 4.0}
    assert cfg["simulate"]["hyper"] == {"tau_A": 0.2}
    with pytest.raises(sd.ConfigError, match="did you mean 'cadence'") as info:
        load_config(config, "simulate", ["simulate.design.cadense=4.0"])
    assert info.value.file == "command line"
    broken = tmp_path / "broken.yaml"
    broken.write_text("survey: {path: .}\nsampler: [1, 2]\noutput: {dir: out}\n")
    with pytest.raises(sd.ConfigError, match="expected a mapping of keys") as info:
        load_config(broken, "fit", ["sampler.chains=2"])  # the file's error, not hidden
    assert (info.value.file, info.value.line) == (str(broken), 2)


def test_foundation_example_reads_the_documented_sample(foundation_dir):
    cfg = load_config("foundation_dr1", "fit", [f"survey.path={foundation_dir}"])
    survey = load_survey(cfg["survey"])
    assert survey.n_sn == 180  # every DR1 light curve, the misnamed .LIST entry included
    salt2 = sd.read_fitres(foundation_dir / "Foundation_DR1.FITRES.TEXT")
    pkmjd = dict(zip(salt2["CID"].astype(str), salt2["PKMJD"]))
    np.testing.assert_array_equal(survey.peak_mjd, [pkmjd[s] for s in survey.snid])
    cut = survey.cut(**{k: v for k, v in cfg["cuts"].items() if v is not None})
    assert cut.n_sn == 167
    assert np.all((cut.z_cmb > 0.015) & (cut.z_cmb < 0.08))
    assert cfg["model"] | {} == {
        "sed": "T21", "population": "SinglePopulation", "population_options": {},
        "dust": "Fitzpatrick99", "dust_options": {}, "milky_way": "Fitzpatrick99",
        "milky_way_R_V": None, "dtype": "float64",
    }  # fmt: skip


def test_every_example_config_validates(tmp_path, monkeypatch):
    examples = example_configs()
    assert {"foundation_dr1", "simulate_foundation", "fit_simulated", "simulate_three_surveys",
            "fit_three_surveys"} <= set(examples)  # fmt: skip
    monkeypatch.chdir(tmp_path)  # built-in examples' paths are relative to the cwd
    (tmp_path / "sim-foundation").mkdir()
    (tmp_path / "foundation_dr1").mkdir()
    for name in ("foundation", "des", "ps1md"):
        (tmp_path / "sim-three" / name).mkdir(parents=True)
    (tmp_path / "sim-three" / "metadata.fitres").touch()
    for name in examples:
        cfg = load_config(name, "simulate" if name.startswith("simulate") else "fit")
        assert Path(cfg["output"]["dir"]).parent == tmp_path


def test_map_fit_of_real_light_curves_writes_every_output(foundation_dir, tmp_path):
    """`method: MAP` on five Foundation SNe with per-SN fits (BayeSN's fit mode): one
    MAP+Laplace "chain", the FITRES table and the figures."""
    snids = ["ASASSN-15bc", "2016W", "2016afk", "ASASSN-15fa", "ASASSN-15go"]
    config = {
        "survey": {"path": str(foundation_dir), "pattern": "Foundation_DR1_*.txt",
                   "bands": {b: f"{b}_PS1" for b in "griz"}},
        "cuts": {"snids": snids},
        "model": {"population": "FixedPopulation"},
        "sampler": {"method": "MAP", "samples": 200, "map_steps": 200},
        "output": {"dir": str(tmp_path / "fit"), "light_curves": 2},
    }  # fmt: skip
    result = run_fit(load_config(config, "fit"), quiet=True)
    post = result["posterior"]
    assert post.posterior.sizes["sn"] == 5 and post.posterior.sizes["draw"] == 200
    table = sd.read_fitres(tmp_path / "fit" / "distances.FITRES")
    assert sorted(table["CID"]) == sorted(snids)
    assert np.all((table["MUERR"] > 0.02) & (table["MUERR"] < 0.5))
    assert np.all(np.abs(table["MURES"]) < 1.0)  # distances near the Hubble law
    for png in ("hubble_residuals.png", "dust_vs_mass.png", "light_curves.png"):
        assert (tmp_path / "fit" / png).read_bytes()[:4] == b"\x89PNG"
    assert not (tmp_path / "fit" / "corner.png").exists()  # per-SN fits: no hyperparameters
    saved = yaml.safe_load((tmp_path / "fit" / "config.yaml").read_text())
    assert saved["cuts"]["snids"] == snids
    assert "Dropped" in (tmp_path / "fit" / "survey_report.txt").read_text()


def test_simulate_then_fit_from_the_command_line(tmp_path):
    """`sndust simulate` writes SNANA files and truth.yaml that a fit reads back (here
    BayeSN's per-SN fit mode, MAP + Laplace: the sampling path of the command is the
    demo's, tested in test_cli.py); refusals and bad configs exit with code 2."""
    proc = sndust("simulate", "simulate_foundation", "--set", "simulate.n_sn=5", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    sim = tmp_path / "sim-foundation"
    truth = yaml.safe_load((sim / "truth.yaml").read_text())
    assert truth["hyper"] == {"mu_R": 2.7, "sigma0": 0.1, "sigma_R": 0.5, "tau_A": 0.3}
    truths = Table.read(sim / "truths.csv", format="ascii.csv")
    survey = sd.Survey.from_snana(sim, bands="auto")
    assert survey.n_sn == 5 and survey.survey_name[0] == "simulated-foundation"
    assert list(truths["SNID"]) == list(survey.snid)
    assert _truth_beside([{"path": str(sim)}])["hyper"] == truth["hyper"]
    fixed = ["--set", "model.population=FixedPopulation", "--set", "sampler.method=MAP"]
    fixed += ["--set", "sampler.samples=400", "--set", "output.light_curves=2"]
    proc = sndust("fit", "fit_simulated", *fixed, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "5 SNe read, 5 after cuts, 5 fitted" in proc.stdout
    out = tmp_path / "sim-foundation-fit"
    table = sd.read_fitres(out / "distances.FITRES")
    assert list(table["CID"]) == list(survey.snid)
    # per-SN distances of a fit (flat distance prior) land on the simulated ones
    assert np.all(np.abs(table["MU"] - truths["D"]) < 4 * table["MUERR"] + 0.05)
    for png in ("hubble_residuals.png", "dust_vs_mass.png", "light_curves.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG"
    # the integrated comparison rebuilds the run's model from the config.yaml beside it;
    # per-SN fits have no hyperparameters: each SN's elpd is its evidence, with p_loo 0
    run = str(out / "run.nc")
    proc = sndust("compare", run, run, "--names", "a", "b", "--draws", "512", "--json",
                  str(tmp_path / "cmp.json"), cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "its own parameters integrated out, 512 importance draws per SN" in proc.stdout
    cmp = json.loads((tmp_path / "cmp.json").read_text())
    assert cmp["method"] == "integrated" and cmp["runs"]["a"]["p_loo"] == pytest.approx(0, abs=1e-6)
    assert cmp["importance_sampling"]["a"]["mc_se_total"] < 0.5
    bad = sndust("fit", str(BAD / "unknown_key.yaml"), cwd=tmp_path)
    assert bad.returncode == 2
    assert "unknown_key.yaml:5, field 'sampler.chians': unknown key" in bad.stderr
    assert "Traceback" not in bad.stderr
    resume = sndust(
        "fit", "fit_simulated", "--resume", "--set", "output.dir=elsewhere", cwd=tmp_path
    )
    assert resume.returncode == 2 and "nothing to resume" in resume.stderr


@pytest.mark.parametrize(
    "method, options",
    [
        ("NUTS", {"target_accept": 0.95, "max_tree_depth": 7, "initial_step_size": 0.05}),
        ("AdjustedMCLMC", {"integration_steps": 16, "target_accept": 0.8, "thin": 2}),
        ("MCLMC", {"desired_energy_var": 1e-3, "diagonal_preconditioning": False}),
    ],
)
def test_sampler_options_reach_the_sampler(tmp_path, method, options):
    from sndust._app._config import build, sampler_options
    from sndust._app._registry import resolve

    config = {
        "survey": {"path": str(tmp_path)},
        "sampler": {"method": method, "warmup": 7, "samples": 9, "options": options},
        "output": {"dir": str(tmp_path / "out")},
    }
    cfg = load_config(config, "fit")
    sampler = build(
        resolve("sampler", method, "sampler.method"), sampler_options(cfg["sampler"]), ""
    )
    assert isinstance(sampler, getattr(sd, method))
    assert (sampler.num_warmup, sampler.num_samples) == (7, 9)
    for name, value in options.items():
        assert getattr(sampler, name) == value and type(getattr(sampler, name)) is type(
            getattr(getattr(sd, method)(), name)
        )


def test_a_sampler_of_your_own_runs_from_yaml(tmp_path):
    """``sampler.method: toy_sampler:RandomWalkMetropolis`` (tests/toy_sampler.py, on the
    sampler protocol, registered by the YAML alone) runs end to end through ``sndust
    fit`` on a simulated survey, with its options from ``sampler.options``."""
    config = tmp_path / "rwm.yaml"
    config.write_text(
        "survey:\n  simulate: {n_sn: 3, seed: 2}\n"
        "sampler:\n  method: toy_sampler:RandomWalkMetropolis\n  chains: 2\n"
        "  warmup: 150\n  samples: 60\n  options: {target_accept: 0.25}\n"
        "output: {dir: out, plots: false}\n"
    )
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "PYTHONPATH": str(Path(__file__).parent)}
    proc = subprocess.run(
        [sys.executable, "-m", "sndust", "fit", str(config), "--quiet"],
        capture_output=True, text=True, timeout=900, cwd=tmp_path, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    post = sd.Posterior.from_netcdf(tmp_path / "out" / "run.nc")
    assert post.posterior.attrs["sampler"] == "RandomWalkMetropolis"
    assert json.loads(post.posterior.attrs["sampler_config"])["target_accept"] == 0.25
    assert post.posterior.sizes["chain"] == 2 and post.posterior.sizes["draw"] == 60
    assert 0.1 < float(post.sample_stats["acceptance_rate"].mean()) < 0.45


def test_the_registry_knows_every_built_in():
    """Every built-in population, dust law and sampler (tests/helpers.py's catalogues) is
    registered by its class name and is the class ``sndust`` exports."""
    from helpers import DUST_LAWS, POPULATIONS, SAMPLERS

    from sndust._app import _registry

    for kind, catalogue in (("population", POPULATIONS), ("dust", DUST_LAWS)):
        assert _registry.names(kind) == catalogue
    assert _registry.names("sampler") == (*SAMPLERS, "MAP")
    for kind, names in (("population", POPULATIONS), ("dust", DUST_LAWS), ("sampler", SAMPLERS)):
        for name in names:
            assert _registry.resolve(kind, name, kind) is getattr(sd, name)


@pytest.fixture(scope="module")
def three_surveys(tmp_path_factory) -> Path:
    """Three surveys drawn together by `sndust simulate` (`simulate.surveys`: Foundation-,
    DES- at 0.1 < z < 0.3 and PS1MD-like, 4 SNe each), one folder each, beside
    metadata.fitres; the files' peaks a search's (2 days rms off the truth)."""
    folder = tmp_path_factory.mktemp("three")
    designs = {"FOUND": "foundation", "DES": {"preset": "des", "z_range": [0.1, 0.3]},
               "PS1": "ps1md"}  # fmt: skip
    simulate = {
        "surveys": [{"name": k, "design": v, "n_sn": 4} for k, v in designs.items()],
        "header_peak_sd": 2.0, "seed": 40,
        "hyper": {"mu_R": 2.7, "sigma_R": 0.5, "tau_A": 0.3, "sigma0": 0.1},
    }  # fmt: skip
    run_simulate(
        load_config({"simulate": simulate, "output": {"dir": str(folder)}}, SIM), quiet=True
    )
    return folder


def test_simulate_writes_several_surveys_as_a_compilation(three_surveys):
    """`simulate.surveys` writes each survey to its folder (its SNIDs, SURVEY and bands)
    and one metadata table of the true per-SN values by survey; the files' peaks are a
    search's, the table's the truth, and a survey entry reading the table gets the truth
    back; the fit of the set finds truth.yaml above the folders; `--set` reaches the
    entries of a `surveys:` list."""
    meta = sd.read_fitres(three_surveys / "metadata.fitres")
    truths = Table.read(three_surveys / "truths.csv", format="ascii.csv")
    names = [f"{s}0000{k}" for s in ("FOUND", "DES", "PS1") for k in range(4)]
    assert list(meta["CID"]) == list(truths["SNID"]) == names
    assert list(meta["SURVEY"]) == list(truths["SURVEY"]) == [n[:-5] for n in names]
    assert list(meta["IDSURVEY"]) == [1] * 4 + [2] * 4 + [3] * 4
    assert np.array_equal(meta["PKMJD"], truths["peak_mjd"])
    assert np.array_equal(meta["HOST_LOGMASS"], truths["log_mass"])
    entries = []
    for k, name in enumerate(("FOUND", "DES", "PS1")):
        files = sd.Survey.from_snana(three_surveys / name, bands="auto")
        rows = slice(4 * k, 4 * k + 4)
        assert list(files.snid) == names[rows] and set(files.survey_name) == {name}
        off = files.peak_mjd - np.asarray(truths["peak_mjd"][rows])
        assert np.all(off != 0) and 0.3 < np.sqrt(np.mean(off**2)) < 6, off
        entry = {"name": name, "path": str(three_surveys / name), "bands": "auto",
                 "metadata_table": str(three_surveys / "metadata.fitres"),
                 "metadata_match": {"SURVEY": name}}  # fmt: skip
        entries.append(entry)
        read = load_survey(load_config({"surveys": [entry], "output": {"dir": "o"}}, "fit")
                           ["surveys"][0])  # fmt: skip
        assert np.array_equal(read.peak_mjd, truths["peak_mjd"][rows])
        assert np.array_equal(read.log_mass, truths["log_mass"][rows])
        assert f"from {three_surveys / 'metadata.fitres'} for 4 of 4 SNe" in read.notes[0]
    des = sd.Survey.from_snana(three_surveys / "DES", bands="auto")
    assert set(des.band_names) <= {"g_DES", "r_DES", "i_DES", "z_DES"}
    assert np.all((des.z_cmb > 0.1) & (des.z_cmb < 0.3))
    truth = yaml.safe_load((three_surveys / "truth.yaml").read_text())
    assert [s["name"] for s in truth["surveys"]] == ["FOUND", "DES", "PS1"]
    again = {"simulate": {"surveys": truth["surveys"][:1]}, "output": {"dir": str(three_surveys)}}
    again["simulate"]["surveys"][0]["design"] = "foundation"
    with pytest.raises(sd.ConfigError, match=r"metadata.fitres, FOUND/FOUND.LIST\): pass"):
        run_simulate(load_config(again, SIM), quiet=True)  # nothing overwritten
    assert truth["surveys"][2]["design"]["name"] == "ps1md"
    assert _truth_beside(entries)["hyper"] == truth["hyper"]
    assert _truth_beside(entries[:1] + [{"path": str(three_surveys.parent)}]) is None
    config = {"surveys": entries, "output": {"dir": "o"}}
    cfg = load_config(config, "fit", ["surveys.1.cuts.z_max=0.2", "surveys.2.bands=auto"])
    assert cfg["surveys"][1]["cuts"]["z_max"] == 0.2 and cfg["surveys"][0]["cuts"]["z_max"] is None
    assert config["surveys"][1] == entries[1]  # the caller's mapping is not changed
    says = "expected an entry number 0-2 of this list, got '3'"
    with pytest.raises(sd.ConfigError, match=says) as info:
        load_config(config, "fit", ["surveys.3.cuts.z_max=0.2"])
    assert info.value.field == "surveys" and info.value.file == "command line"


def test_three_surveys_in_one_config_fit_end_to_end(three_surveys, tmp_path):
    """`surveys:` reads several surveys, each with its own cuts, into one fit: the report
    counts drops per survey, each SN keeps its survey (posterior constant_data, the
    FITRES table), MAP goes through (a short sampler run of three surveys: the next
    test); malformed entries name `surveys.<i>.<key>`."""
    config = {
        "surveys": [
            {"name": "FOUND", "path": str(three_surveys / "FOUND"), "bands": "auto",
             "cuts": {"exclude": ["FOUND00001"]}},
            {"name": "DES", "path": str(three_surveys / "DES"), "bands": "auto",
             "cuts": {"phase_window": [-10, 30]}},
            {"name": "PS1", "path": str(three_surveys / "PS1"), "bands": "auto",
             "reject_photflag": 4096},
        ],
        "cuts": {"min_obs": 3},
        "sampler": {"method": "MAP", "samples": 50, "map_steps": 300},
        "output": {"dir": str(tmp_path / "map"), "light_curves": 0, "plots": False},
    }  # fmt: skip
    cfg = load_config(config, "fit")
    assert [s["name"] for s in cfg["surveys"]] == ["FOUND", "DES", "PS1"]
    result = run_fit(cfg, quiet=True)
    post = result["posterior"]
    surveys = post.constant_data["survey"].values.tolist()
    assert surveys == ["FOUND"] * 3 + ["DES"] * 4 + ["PS1"] * 4
    assert post.posterior["sn"].values.tolist()[:3] == ["FOUND00000", "FOUND00002", "FOUND00003"]
    table = sd.read_fitres(tmp_path / "map" / "distances.FITRES")
    assert list(table["SURVEY"]) == surveys
    report = (tmp_path / "map" / "survey_report.txt").read_text()
    assert "  FOUND: 1 SNe, 0 SN bands, 0 observations" in report
    assert "FOUND SN FOUND00001: excluded by name" in report
    assert re.search(r"  DES: 0 SNe, \d+ SN bands, [1-9]\d* observations", report), report
    assert "\n  PS1: light curves without a PHOTFLAG column" in report
    summary = json.loads((tmp_path / "map" / "summary.json").read_text())
    assert set(summary["derived"]) == {"RV_mean", "RV_sd"} and "RV_mean" not in summary["hyper"]
    assert summary["hyper"]["mu_R"]["truth"] == 2.7  # truth.yaml above the surveys' folders
    path = str(three_surveys / "FOUND")
    for entry, key, says in (
        ({"name": "A B", "path": path}, "surveys.0.name", "expected one word"),
        ({"path": path}, "surveys.0.name", "missing required key"),
        ({"name": "A", "path": path, "cuts": {"z_mx": 1}}, "surveys.0.cuts.z_mx", "unknown key"),
        ({"name": "A", "path": path + "-not"}, "surveys.0.path", "no such file"),
    ):
        with pytest.raises(sd.ConfigError, match=says) as info:
            load_config({**config, "surveys": [entry]}, "fit")
        assert info.value.field == key
    with pytest.raises(sd.ConfigError, match="not both"):
        load_config({**config, "survey": {"path": "x"}}, "fit")


def test_metadata_table_and_mass_placeholders_in_a_mass_split_config(three_surveys, tmp_path):
    """A survey entry's `metadata_table` (matched by IDSURVEY and SNID) overrides peaks
    and masses; its placeholder masses are reported, and a short MassSplit sampler run
    of the three surveys drops exactly those SNe, with that reason, and samples the
    rest, each SN with its survey and the population's derived quantities summarised."""
    found = sd.Survey.from_snana(three_surveys / "FOUND", bands="auto")
    table = tmp_path / "meta.csv"
    table.write_text(
        "CID,IDSURVEY,PKMJD,HOST_LOGMASS\n"
        f"FOUND00000,150,{found.peak_mjd[0] + 0.5},-9\n"
        f"FOUND00001,150,{found.peak_mjd[1] - 0.5},6.0\n"
        f"FOUND00002,150,{found.peak_mjd[2]},10.7\n"
        "FOUND00000,10,0.0,11.0\n"
    )
    entry = {"name": "FOUND", "path": str(three_surveys / "FOUND"), "bands": "auto",
             "metadata_table": str(table), "metadata_match": {"IDSURVEY": 150},
             "mass_sentinels": [6.0]}  # fmt: skip
    config = {
        "surveys": [entry] + [
            {"name": name, "path": str(three_surveys / name), "bands": "auto"}
            for name in ("DES", "PS1")
        ],
        "model": {"population": "MassSplit"},
        "sampler": {"method": "NUTS", "chains": 1, "warmup": 10, "samples": 5, "init": "prior",
                    "options": {"max_tree_depth": 4}},
        "output": {"dir": str(tmp_path / "split"), "light_curves": 0, "plots": False},
    }  # fmt: skip
    post = run_fit(load_config(config, "fit"), quiet=True)["posterior"]
    kept = post.posterior["sn"].values.tolist()
    others = [f"{name}0000{k}" for name in ("DES", "PS1") for k in range(4)]
    assert kept == ["FOUND00002", "FOUND00003"] + others and post.posterior.sizes["draw"] == 5
    surveys = post.constant_data["survey"].values.tolist()
    assert surveys == ["FOUND"] * 2 + ["DES"] * 4 + ["PS1"] * 4
    summary = json.loads((tmp_path / "split" / "summary.json").read_text())
    assert list(summary["derived"])[-1] == "Delta_M0" and "RV_mean_HM" in summary["derived"]
    assert post.constant_data["log_mass"].values[0] == 10.7
    report = (tmp_path / "split" / "survey_report.txt").read_text()
    for snid in ("FOUND00000", "FOUND00001"):
        assert f"FOUND SN {snid}: log_mass unknown (MassSplit needs it)" in report
    assert "read as unknown: FOUND00000, FOUND00001" in report
    assert f"1 SNe not in {table} keep their files' values: FOUND00003" in report
    with pytest.raises(sd.ConfigError, match="expected a list of numbers") as info:
        bad = {**config, "surveys": [entry | {"mass_sentinels": "6"}]}
        run_fit(load_config(bad | {"output": {"dir": str(tmp_path / "bad")}}, "fit"))
    assert info.value.field == "surveys.0.mass_sentinels"
