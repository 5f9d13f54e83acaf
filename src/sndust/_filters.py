"""Filters, photometric standards and zero points.

A :class:`FilterBank` is a registry of named bandpasses. The built-in one carries every
filter that bayesn 0.4.0 ships (``model_files/filters.yaml``); users add their own from
files, arrays, a filter YAML in bayesn's format, or ``sncosmo.Bandpass`` objects.

Zero points follow BayeSN: ``zp = 2.5 log10(∫ λ f_std T dλ / ∫ λ T dλ)`` on the filter's own
wavelength grid (Simpson's rule), with ``f_std`` the AB spectrum, Vega
(``alpha_lyr_stis_010``) or BD+17°4708 (``bd_17d4708_stisnic_007``), plus a per-filter
offset (``magzero``). A magnitude is then ``m = -2.5 log10(F) + zp + offset``.

Redshifted band weights follow BayeSN's scheme (itself from ParSNIP, Boone+21): the filter
is tabulated as ``λ T(λ) dλ`` on an observer-frame log-wavelength grid 51 times finer than
the model grid, linearly interpolated at each model bin's observed wavelength ``λ(1+z)``
and normalised to unit sum.
"""

from __future__ import annotations

import difflib
import functools
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._errors import ModelError
from ._files import model_files_dir

__all__ = ["Filter", "FilterBank"]

_C_AA_PER_S = 2.99792458e18  # speed of light, Å/s
_OVERSAMPLING = 51  # BayeSN's band_oversampling (odd)
_UNITS = {"aa": 1.0, "angstrom": 1.0, "a": 1.0, "nm": 10.0, "micron": 1e4, "um": 1e4}


@dataclass(frozen=True, eq=False)
class Filter:
    """One bandpass: transmission ``trans`` (photon-counting response) at ``wave`` (Å).

    Attributes:
        name: registry name (e.g. ``"g_PS1"``).
        wave, trans: the response curve, Å and dimensionless, strictly increasing ``wave``.
        magsys: ``"ab"`` or the name of a standard spectrum in the bank (``"vega"``, ``"bd17"``).
        offset: magnitude offset added to the zero point (bayesn's ``magzero``).
        source: where the curve came from.
    """

    name: str
    wave: np.ndarray
    trans: np.ndarray
    magsys: str = "ab"
    offset: float = 0.0
    source: str = "<array>"

    @property
    def limits(self) -> tuple[float, float]:
        """First and last wavelengths (Å) where the response exceeds 1% of its peak.

        BayeSN drops a band for an SN when these, blue- or red-shifted into the rest frame,
        fall outside the SED model's wavelength range.
        """
        above = np.flatnonzero(self.trans > 0.01 * self.trans.max())
        return float(self.wave[above[0]]), float(self.wave[above[-1]])

    def rest_weights(self, rest_wave: np.ndarray, z: float) -> np.ndarray:
        """Normalised weights of this band on a log-spaced rest grid, for redshift ``z``.

        Args:
            rest_wave: the SED model's rest grid, log-spaced, Å, ``(n_wave,)``.
            z: heliocentric redshift.

        Returns:
            ``(n_wave,)`` weights summing to one (zero where the redshifted band misses the
            grid): ``w_i ∝ λ T dλ`` sampled at ``λ_i (1 + z)``.
        """
        log_lo = np.log10(rest_wave[0])
        step = (np.log10(rest_wave[-1]) - log_lo) / (rest_wave.size - 1) / _OVERSAMPLING
        pos = _OVERSAMPLING * np.arange(rest_wave.size) + np.log10(1.0 + z) / step
        lower = pos.astype(np.int64)
        frac = pos - lower

        def tabulated(n):  # λ T(λ) dλ on the fine observer-frame grid, at integer index n
            lam = 10 ** (log_lo + n * step)
            dlam = 10 ** (log_lo + (n + 1) * step) - lam
            return lam * np.interp(lam, self.wave, self.trans, left=0.0, right=0.0) * dlam

        weights = (1.0 - frac) * tabulated(lower) + frac * tabulated(lower + 1)
        total = weights.sum()
        return weights / total if total > 0 else weights


def _read_curve(path: Path, unit: str = "AA", name: str = "?") -> tuple[np.ndarray, np.ndarray]:
    try:
        data = np.loadtxt(path, ndmin=2, comments="#")
    except OSError:
        raise ModelError(f"filter response file not found for {name!r}", file=str(path)) from None
    except ValueError as err:
        raise ModelError(
            f"cannot read filter response for {name!r}: {err}", file=str(path)
        ) from None
    if data.shape[1] < 2 or data.shape[0] < 3:
        raise ModelError(
            f"expected >= 3 rows of two columns (wavelength, transmission), got shape {data.shape}",
            file=str(path),
        )
    scale = _UNITS.get(str(unit).lower())
    if scale is None:
        raise ModelError(f"unknown lam_unit {unit!r}; use one of {sorted(_UNITS)}", file=str(path))
    return data[:, 0] * scale, data[:, 1]


def _checked(name: str, wave, trans, source: str) -> tuple[np.ndarray, np.ndarray]:
    wave = np.asarray(wave, dtype=np.float64)
    trans = np.asarray(trans, dtype=np.float64)
    if wave.ndim != 1 or wave.shape != trans.shape or wave.size < 3:
        raise ModelError(
            f"filter {name!r}: wave and trans must be 1-d of equal length >= 3, got "
            f"{wave.shape} and {trans.shape}",
            file=source,
        )
    if not (np.all(np.isfinite(wave)) and np.all(np.isfinite(trans))):
        raise ModelError(f"filter {name!r}: non-finite wavelength or transmission", file=source)
    if np.any(np.diff(wave) <= 0):
        raise ModelError(f"filter {name!r}: wavelengths must be strictly increasing", file=source)
    # Measured curves dip slightly below zero in places (noise); bayesn keeps them as they
    # are and so do we, for parity. Only a curve with no positive response is rejected.
    if trans.max() <= 0:
        raise ModelError(f"filter {name!r}: transmission has no positive value", file=source)
    return wave, trans


def _resolve_path(path: str, root: Path) -> Path:
    head, *rest = Path(path).parts or ("",)
    if head.startswith("$"):
        value = os.environ.get(head[1:])
        if value is None:
            raise ModelError(f"environment variable {head} is not set (path {path!r})")
        return Path(value, *rest)
    p = Path(path).expanduser()
    return p if p.is_absolute() else root / p


@dataclass(eq=False)
class FilterBank:
    """A registry of filters and standard spectra, by name.

    Use :meth:`builtin` for every filter bayesn ships; add your own with :meth:`add`,
    :meth:`add_file`, :meth:`add_bandpass` or :meth:`load_yaml`. Curves are read lazily, so
    creating the bank is instant; zero points are computed once per filter and cached.
    """

    _entries: dict = field(default_factory=dict)  # name -> Filter | dict(path, magsys, ...)
    _standards: dict = field(default_factory=dict)  # name -> (wave, flux) | Path
    _zp_cache: dict = field(default_factory=dict)

    # ------------------------------------------------------------------ construction
    @classmethod
    def builtin(cls) -> FilterBank:
        """Every filter and standard shipped in ``model_files/filters.yaml``."""
        bank = cls()
        bank.load_yaml(model_files_dir() / "filters.yaml")
        return bank

    def copy(self) -> FilterBank:
        return FilterBank(dict(self._entries), dict(self._standards), dict(self._zp_cache))

    def load_yaml(self, path: str | Path) -> FilterBank:
        """Add the filters and standards of a bayesn-format filter YAML (in place).

        Keys: ``standards: {name: {path}}``, ``filters: {name: {magsys, magzero, path,
        lam_unit?}}``, optional ``standards_root`` / ``filters_root``. Relative paths are
        relative to the YAML's directory; a leading ``$VAR`` is an environment variable.
        Entries override built-ins of the same name.
        """
        import yaml

        path = Path(path)
        try:
            spec = yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        except OSError:
            raise ModelError("filter YAML not found", file=str(path)) from None
        except yaml.YAMLError as err:
            raise ModelError(f"not valid YAML: {err}", file=str(path)) from None
        if not isinstance(spec, dict) or not isinstance(spec.get("filters", {}), dict):
            raise ModelError("expected a mapping with a 'filters' mapping", file=str(path))
        here = path.resolve().parent
        std_root = _resolve_path(str(spec.get("standards_root", "")), here)
        filt_root = _resolve_path(str(spec.get("filters_root", "")), here)
        for name, entry in (spec.get("standards") or {}).items():
            if not isinstance(entry, dict) or "path" not in entry:
                raise ModelError(
                    "standard needs a 'path'", file=str(path), field=f"standards.{name}"
                )
            self._standards[name] = _resolve_path(str(entry["path"]), std_root)
            self._zp_cache.clear()
        for name, entry in (spec.get("filters") or {}).items():
            where = f"filters.{name}"
            if not isinstance(entry, dict) or "path" not in entry:
                raise ModelError("filter needs a 'path'", file=str(path), field=where)
            magsys = str(entry.get("magsys", "ab")).lower()
            try:
                offset = float(entry.get("magzero", 0.0))
            except (TypeError, ValueError):
                raise ModelError("magzero must be a number", file=str(path), field=where) from None
            self._entries[name] = {
                "path": _resolve_path(str(entry["path"]), filt_root),
                "magsys": magsys,
                "offset": offset,
                "unit": entry.get("lam_unit", "AA"),
                "yaml": str(path),
            }
            self._zp_cache.pop(name, None)
        return self

    def add(self, name: str, wave, trans, *, magsys: str = "ab", offset: float = 0.0) -> Filter:
        """Add (or replace) a filter from arrays: wavelength (Å) and transmission."""
        wave, trans = _checked(name, wave, trans, "<array>")
        filt = Filter(name, wave, trans, magsys.lower(), float(offset), "<array>")
        self._entries[name] = filt
        self._zp_cache.pop(name, None)
        return filt

    def add_file(self, name: str, path, *, magsys="ab", offset=0.0, lam_unit="AA") -> Filter:
        """Add a filter from a two-column text file (wavelength, transmission)."""
        wave, trans = _read_curve(Path(path), lam_unit, name)
        wave, trans = _checked(name, wave, trans, str(path))
        filt = Filter(name, wave, trans, magsys.lower(), float(offset), str(path))
        self._entries[name] = filt
        self._zp_cache.pop(name, None)
        return filt

    def add_bandpass(self, bandpass, *, name: str | None = None, magsys="ab", offset=0.0) -> Filter:
        """Add an ``sncosmo.Bandpass`` (its ``wave`` in Å and ``trans``)."""
        name = name or bandpass.name
        if not name:
            raise ModelError("the sncosmo Bandpass has no name; pass name=")
        return self.add(name, bandpass.wave, bandpass.trans, magsys=magsys, offset=offset)

    def add_standard(self, name: str, wave, flux) -> None:
        """Add a standard-star spectrum (Å, erg/s/cm²/Å) usable as a ``magsys``."""
        wave, flux = _checked(name, wave, flux, "<array>")
        self._standards[name.lower()] = (wave, flux)
        self._zp_cache.clear()

    # ------------------------------------------------------------------ access
    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._entries)

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def __getitem__(self, name: str) -> Filter:
        entry = self._entries.get(name)
        if entry is None:
            close = difflib.get_close_matches(str(name), self._entries, n=3)
            hint = f" Closest: {', '.join(close)}." if close else ""
            raise ModelError(
                f"unknown filter {name!r}.{hint} Available filters: "
                f"{', '.join(sorted(self._entries))}. "
                "Map survey band names with bands={'g': 'g_PS1', ...} or add the filter "
                "with FilterBank.add / add_file / load_yaml."
            )
        if isinstance(entry, dict):
            wave, trans = _read_curve(entry["path"], entry["unit"], name)
            wave, trans = _checked(name, wave, trans, str(entry["path"]))
            entry = Filter(name, wave, trans, entry["magsys"], entry["offset"], str(entry["path"]))
            self._entries[name] = entry
        return entry

    def resolve(self, names: Iterable[str]) -> list[Filter]:
        return [self[n] for n in names]

    def _standard(self, magsys: str, filt: Filter) -> tuple[np.ndarray, np.ndarray]:
        std = self._standards.get(magsys)
        if std is None:
            raise ModelError(
                f"filter {filt.name!r} uses unknown magnitude system {magsys!r}; known: "
                f"ab, {', '.join(sorted(self._standards))}",
                file=filt.source,
            )
        if isinstance(std, Path):
            std = _read_standard(std)
            self._standards[magsys] = std
        return std

    def zero_point(self, name: str) -> float:
        """``2.5 log10(∫λ f_std T dλ / ∫λ T dλ)`` for the filter's magnitude system (no offset)."""
        if name in self._zp_cache:
            return self._zp_cache[name]
        from scipy.integrate import simpson
        from scipy.interpolate import interp1d

        filt = self[name]
        lam = filt.wave
        if filt.magsys == "ab":
            f_std = _C_AA_PER_S / lam**2 * 10 ** (-48.6 / 2.5)
        else:
            std_wave, std_flux = self._standard(filt.magsys, filt)
            if lam[0] < std_wave[0] or lam[-1] > std_wave[-1]:
                raise ModelError(
                    f"filter {name!r} ({lam[0]:.0f}-{lam[-1]:.0f} Å) extends beyond the "
                    f"{filt.magsys} standard spectrum ({std_wave[0]:.0f}-{std_wave[-1]:.0f} Å)",
                    file=filt.source,
                )
            f_std = interp1d(std_wave, std_flux, kind="cubic")(lam)
        zp = 2.5 * np.log10(
            simpson(lam * f_std * filt.trans, x=lam) / simpson(lam * filt.trans, x=lam)
        )
        self._zp_cache[name] = float(zp)
        return float(zp)

    def offset(self, name: str) -> float:
        return self[name].offset


def _read_standard(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        if path.suffix.lower() in {".fits", ".fit"} or path.name.lower().endswith(".fits.gz"):
            from astropy.io import fits

            with fits.open(path) as hdul:
                data = hdul[1].data
                wave = np.asarray(data["WAVELENGTH"], dtype=np.float64)
                flux = np.asarray(data["FLUX"], dtype=np.float64)
        else:
            txt = np.loadtxt(path, ndmin=2)
            wave, flux = txt[:, 0], txt[:, 1]
    except (OSError, KeyError, ValueError, IndexError) as err:
        raise ModelError(f"cannot read standard spectrum: {err}", file=str(path)) from None
    return _checked(path.stem, wave, flux, str(path))


@functools.cache
def _default_bank() -> FilterBank:
    # Shared by prepare() calls that pass no bank, so curves are read and zero points
    # computed once per process; FilterBank.builtin() hands users their own copy.
    return FilterBank.builtin()


def as_filter_bank(filters: FilterBank | None) -> FilterBank:
    """``None`` → the built-in bank; a FilterBank passes through."""
    if filters is None:
        return _default_bank()
    if isinstance(filters, FilterBank):
        return filters
    raise ModelError(f"filters must be a FilterBank or None, got {type(filters).__name__}")
