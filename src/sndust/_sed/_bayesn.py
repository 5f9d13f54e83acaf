"""BayeSN: the hierarchical SED model of Mandel+22 (M20), Thorp+21 (T21), Ward+23 (W22)
and Grayling+ (G25_85day: 2800-18500 Å, -10...+85 d, population R_V).

The intrinsic SED of SN ``s`` at rest phase ``t`` and rest wavelength ``λ`` is

    S_s(λ, t) = H(λ, t) · 10^{-0.4 [W0 + θ_s W1 + ε_s](λ, t)},

where ``H`` is the Hsiao template and the bracket is a 2-D natural cubic spline on a
(wavelength-knot × phase-knot) grid. ``ε_s`` is zero on the first and last wavelength
knots; on the interior knots it is ``L_Σ e_s`` with ``e_s ~ N(0, I)``, laid out
wavelength-fastest. Following BayeSN, everything is evaluated on 300 rest wavelengths
log-spaced between the first and last wavelength knots.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import equinox as eqx
import h5py
import jax.numpy as jnp
import numpy as np
import yaml
from jaxtyping import Array, ArrayLike, Float
from scipy.interpolate import CubicSpline

from .._errors import ModelError
from .._files import model_files_dir
from .._spline import spline_basis
from ._base import AbstractSEDModel

__all__ = ["BayeSNModel", "builtin_models", "eps_from_e"]

_N_WAVE = 300  # BayeSN's rest-frame grid (credited to ParSNIP, Boone+21)
_REQUIRED = ("L_KNOTS", "TAU_KNOTS", "W0", "W1", "L_SIGMA_EPSILON", "M0", "SIGMA0", "TAUA")


def builtin_models() -> tuple[str, ...]:
    """Names of the trained models shipped with sndust."""
    root = model_files_dir() / "models"
    return tuple(sorted(p.name for p in root.iterdir() if (p / "BAYESN.YAML").is_file()))


def _resolve(name_or_path: str | Path) -> Path:
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        path = path / "BAYESN.YAML"
    if path.is_file():
        return path
    if isinstance(name_or_path, Path) or any(c in str(name_or_path) for c in "/\\."):
        raise ModelError(f"no BayeSN model file at {path}")
    available = builtin_models()
    # case-insensitive: "T21", "t21", BayeSN's "T21_model", "G25_85day", "G25_85DAY"
    by_key = {name.upper(): name for name in available}
    key = str(name_or_path).upper().removesuffix("_MODEL")
    if key in by_key:
        return model_files_dir() / "models" / by_key[key] / "BAYESN.YAML"
    close = [k for k in by_key if k.startswith(key)] or difflib.get_close_matches(
        key, list(by_key), n=1
    )
    hint = f" Did you mean {by_key[close[0]]!r}?" if close else ""
    raise ModelError(
        f"unknown BayeSN model {name_or_path!r}; built-in models are {', '.join(available)}, "
        f"or pass the path of a BAYESN.YAML file or its directory.{hint}"
    )


def _array(params: dict, key: str, file: Path, ndim: int) -> np.ndarray:
    try:
        out = np.asarray(params[key], dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ModelError(f"cannot read {key} as numbers ({err})", file=file, field=key) from None
    if out.ndim != ndim or not np.all(np.isfinite(out)):
        raise ModelError(
            f"expected a finite {ndim}-d array, got shape {out.shape}", file=file, field=key
        )
    return out


def _load_hsiao(
    path: Path, rest_wave: np.ndarray, tau_knots: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    try:
        with h5py.File(path, "r") as f:
            group = f["default"]
            phase = np.asarray(group["phase"][()], dtype=np.float64)
            wave = np.asarray(group["wave"][()], dtype=np.float64)
            flux = np.asarray(group["flux"][()], dtype=np.float64)
    except (OSError, KeyError) as err:
        raise ModelError(
            f"cannot read the Hsiao template ({err}); expected HDF5 group 'default' with "
            "datasets 'phase', 'wave', 'flux'",
            file=str(path),
        ) from None
    if flux.shape != (phase.size, wave.size):
        raise ModelError(
            f"flux has shape {flux.shape}, expected (n_phase, n_wave) = "
            f"({phase.size}, {wave.size})",
            file=str(path),
            field="flux",
        )
    if np.any(np.diff(phase) != 1.0):
        raise ModelError("template phases must be on a 1-day grid", file=str(path), field="phase")
    # The model is evaluated on its whole knot range (the shipped template, -19...+85 d and
    # 1000-25000 Å, covers every shipped model, G25_85day's +85 d and 2800 Å included):
    # a template that stops short would be extended by its edge, silently.
    if phase[0] > tau_knots[0] or phase[-1] < tau_knots[-1]:
        raise ModelError(
            f"template phases {phase[0]:g}...{phase[-1]:g} d do not cover the model's "
            f"{tau_knots[0]:g}...{tau_knots[-1]:g} d",
            file=str(path),
            field="phase",
        )
    if wave[0] > rest_wave[0] or wave[-1] < rest_wave[-1]:
        raise ModelError(
            f"template wavelengths {wave[0]:g}-{wave[-1]:g} Å do not cover the model's "
            f"{rest_wave[0]:.0f}-{rest_wave[-1]:.0f} Å",
            file=str(path),
            field="wave",
        )
    # Natural cubic spline in wavelength onto the model grid (as BayeSN); linear in phase later.
    on_grid = CubicSpline(wave, flux.T, axis=0, bc_type="natural")(rest_wave)
    return phase, on_grid


class BayeSNModel(AbstractSEDModel):
    """A trained BayeSN SED model (Mandel+22; Thorp+21; Ward+23).

    Load one with :meth:`BayeSNModel.load`: ``BayeSNModel.load("T21")`` (or ``"W22"``,
    ``"M20"``), or the path of a ``BAYESN.YAML`` written by BayeSN training.

    Attributes:
        name: model name or file path.
        l_knots: wavelength knots, Å, ``(n_lknot,)``.
        tau_knots: phase knots, rest-frame days, ``(n_tknot,)``.
        W0, W1: mean and first-component warping surfaces, ``(n_lknot, n_tknot)``, mag.
        L_sigma: Cholesky factor of the ε covariance on interior wavelength knots,
            ``(n_eps, n_eps)`` with ``n_eps = (n_lknot - 2) * n_tknot``, wavelength-fastest.
        M0: reference absolute magnitude (-19.5 for the shipped models).
        sigma0: grey intrinsic scatter, mag. tau_A: mean host A_V of the trained model.
        R_V: trained global R_V, or ``None`` for population-R_V models (then ``mu_R`` and
            ``sigma_R`` are set).
        hsiao_phase: template phases, days, ``(n_phase,)`` on a 1-day grid.
        hsiao_flux: Hsiao template resampled onto :attr:`rest_wave`, ``(n_wave, n_phase)``.
    """

    name: str = eqx.field(static=True)
    l_knots: np.ndarray
    tau_knots: np.ndarray
    W0: np.ndarray
    W1: np.ndarray
    L_sigma: np.ndarray
    M0: float
    sigma0: float
    tau_A: float
    R_V: float | None
    mu_R: float | None
    sigma_R: float | None
    hsiao_phase: np.ndarray
    hsiao_flux: np.ndarray

    @classmethod
    def load(cls, name_or_path: str | Path = "T21", *, template: str | Path | None = None):
        """Load a built-in model by name or a BayeSN ``BAYESN.YAML`` by path.

        Args:
            name_or_path: ``"T21"``, ``"W22"``, ``"M20"``, ``"G25_85day"`` (any case;
                BayeSN's ``"T21_model"`` spelling works too), or a path to a
                ``BAYESN.YAML`` file or the directory holding it.
            template: an HDF5 Hsiao-format template to use instead of the shipped one.
        """
        file = _resolve(name_or_path)
        try:
            params = yaml.load(
                file.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)
            )
        except yaml.YAMLError as err:
            raise ModelError(f"not valid YAML: {err}", file=str(file)) from None
        if not isinstance(params, dict):
            raise ModelError("expected a mapping of BayeSN parameters", file=str(file))
        missing = [k for k in _REQUIRED if k not in params]
        if missing:
            raise ModelError(f"missing keys {missing}", file=str(file), field=missing[0])
        l_knots = _array(params, "L_KNOTS", file, 1)
        tau_knots = _array(params, "TAU_KNOTS", file, 1)
        n_l, n_t = l_knots.size, tau_knots.size
        W0 = _array(params, "W0", file, 2)
        W1 = _array(params, "W1", file, 2)
        L_sigma = _array(params, "L_SIGMA_EPSILON", file, 2)
        for key, arr, shape in (
            ("W0", W0, (n_l, n_t)),
            ("W1", W1, (n_l, n_t)),
            ("L_SIGMA_EPSILON", L_sigma, ((n_l - 2) * n_t,) * 2),
        ):
            if arr.shape != shape:
                raise ModelError(f"shape {arr.shape}, expected {shape}", file=str(file), field=key)
        scalars = {}
        for key in ("M0", "SIGMA0", "TAUA", "RV", "MUR", "SIGMAR"):
            if key in params:
                scalars[key] = float(_array(params, key, file, 0))
        if "RV" not in scalars and not {"MUR", "SIGMAR"} <= scalars.keys():
            raise ModelError("needs either RV or both MUR and SIGMAR", file=str(file), field="RV")
        rest_wave = _rest_wave(l_knots)
        template = model_files_dir() / "templates" / "hsiao.h5" if template is None else template
        hsiao_phase, hsiao_flux = _load_hsiao(Path(template), rest_wave, tau_knots)
        return cls(
            name=str(name_or_path),
            l_knots=l_knots,
            tau_knots=tau_knots,
            W0=W0,
            W1=W1,
            L_sigma=L_sigma,
            M0=scalars["M0"],
            sigma0=scalars["SIGMA0"],
            tau_A=scalars["TAUA"],
            R_V=scalars.get("RV"),
            mu_R=scalars.get("MUR"),
            sigma_R=scalars.get("SIGMAR"),
            hsiao_phase=hsiao_phase,
            hsiao_flux=hsiao_flux,
        )

    @property
    def rest_wave(self) -> np.ndarray:
        return _rest_wave(self.l_knots)

    @property
    def phase_range(self) -> tuple[float, float]:
        return float(self.tau_knots[0]), float(self.tau_knots[-1])

    @property
    def n_eps(self) -> int:
        """Number of free ε components, ``(n_lknot - 2) * n_tknot``."""
        return (self.l_knots.size - 2) * self.tau_knots.size

    def wave_basis(self) -> np.ndarray:
        """Natural-spline rows mapping wavelength-knot values to :attr:`rest_wave`."""
        return spline_basis(self.rest_wave, self.l_knots)

    def phase_basis(self, phase: ArrayLike) -> np.ndarray:
        """Natural-spline rows mapping phase-knot values to ``phase``: ``shape + (n_tknot,)``."""
        return spline_basis(phase, self.tau_knots)

    def eps_from_e(self, e: Float[ArrayLike, "*batch n_eps"]) -> Float[Array, "*batch nl nt"]:
        """Residual surface ε from its standard-normal form ``e``: see :func:`eps_from_e`."""
        e = jnp.asarray(e)
        return eps_from_e(jnp.asarray(self.L_sigma, e.dtype), e, self.l_knots.size)


def eps_from_e(L_sigma, e, n_lknot: int):
    """Residual surfaces ε from standard-normal ``e`` (BayeSN's non-centred form).

    ``ε = L_Σ e`` on the interior wavelength knots, laid out wavelength-fastest, with zero
    first and last wavelength rows. ``e``: ``(..., n_eps)``; returns ``(..., n_lknot, n_tknot)``.
    """
    n_t = L_sigma.shape[0] // (n_lknot - 2)
    interior = jnp.einsum("ij,...j->...i", L_sigma, e)
    interior = jnp.swapaxes(interior.reshape(*e.shape[:-1], n_t, n_lknot - 2), -1, -2)
    zero = jnp.zeros((*e.shape[:-1], 1, n_t), interior.dtype)
    return jnp.concatenate([zero, interior, zero], axis=-2)


def _rest_wave(l_knots: np.ndarray) -> np.ndarray:
    return 10 ** np.linspace(np.log10(l_knots[0]), np.log10(l_knots[-1]), _N_WAVE)
