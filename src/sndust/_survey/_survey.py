"""``Survey``: the light curves and per-SN metadata of a set of supernovae, padded to
``(n_sn, n_obs)`` NumPy arrays, with a record of everything left out on the way."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from jaxtyping import Bool, Float, Int

from .._errors import ConfigError, DataError, ModelError
from ._cuts import plan_cut
from ._lightcurve import Drop, LightCurve, check_band_map, drop_repeated_rows, snid_key
from ._listing import collect
from ._pack import PER_SN, pack_light_curves
from ._snana import read_snana_text
from ._snana_fits import read_snana_fits
from ._tables import light_curve_from_table, read_bayesn_table

_PER_OBS = ("mjd", "fluxcal", "fluxcal_err", "band", "mask")


@dataclass(frozen=True, eq=False)
class Survey:
    """Raw light curves and host/redshift metadata of ``n_sn`` supernovae.

    Observations are padded to ``n_obs`` (the longest light curve); padding has
    ``mask`` False, ``mjd`` 0, ``fluxcal`` 0, ``fluxcal_err`` 1 and ``band`` 0. Arrays
    are read-only; cuts and selections return new surveys.

    Attributes:
        snid: supernova names, ``(n_sn,)``.
        mjd: observation dates (MJD), ``(n_sn, n_obs)``.
        fluxcal, fluxcal_err: flux and its 1-sigma error, zero point 27.5 mag.
        band: index of each observation's band into ``band_names``.
        band_names: sndust filter names, in order of first appearance.
        mask: True for real observations.
        z_hel, z_cmb, z_err: heliocentric and CMB-frame redshift, error of ``z_cmb``.
        peak_mjd: the date of B-band maximum used to define phase (MJD).
        mwebv: Milky Way E(B-V) (mag).
        log_mass: log10 host stellar mass (NaN when unknown).
        survey_name: SNANA ``SURVEY`` of each SN ("" if none).
        meta: every header field of each SN.
        sources: file(s) each SN was read from.
        drops: every SN, band or observation left out by reading or cuts, with reasons.
        notes: defaults applied while reading (e.g. "no MWEBV; using 0").
        line: 1-based source line (or table row) of each observation, 0 if unknown.
    """

    snid: tuple[str, ...]
    mjd: Float[np.ndarray, "n_sn n_obs"]
    fluxcal: Float[np.ndarray, "n_sn n_obs"]
    fluxcal_err: Float[np.ndarray, "n_sn n_obs"]
    band: Int[np.ndarray, "n_sn n_obs"]
    band_names: tuple[str, ...]
    mask: Bool[np.ndarray, "n_sn n_obs"]
    z_hel: Float[np.ndarray, " n_sn"]
    z_cmb: Float[np.ndarray, " n_sn"]
    z_err: Float[np.ndarray, " n_sn"]
    peak_mjd: Float[np.ndarray, " n_sn"]
    mwebv: Float[np.ndarray, " n_sn"]
    log_mass: Float[np.ndarray, " n_sn"]
    survey_name: tuple[str, ...]
    meta: tuple[dict, ...]
    sources: tuple[str, ...]
    drops: tuple[Drop, ...] = ()
    notes: tuple[str, ...] = ()
    line: Int[np.ndarray, "n_sn n_obs"] | None = field(default=None, repr=False)

    def __post_init__(self):
        if np.ndim(self.mjd) != 2:
            raise DataError(
                f"mjd must be 2-d (n_sn, n_obs), got shape {np.shape(self.mjd)}", field="mjd"
            )
        n_sn, n_obs = self.mjd.shape
        for name in _PER_OBS + (() if self.line is None else ("line",)):
            if getattr(self, name).shape != (n_sn, n_obs):
                raise DataError(
                    f"{name} has shape {getattr(self, name).shape}, expected {(n_sn, n_obs)}",
                    field=name,
                )
        for name in PER_SN + ("snid", "survey_name", "meta", "sources"):
            if len(getattr(self, name)) != n_sn:
                raise DataError(
                    f"{name} has {len(getattr(self, name))} entries, expected {n_sn}", field=name
                )
        dtypes = dict.fromkeys(("mjd", "fluxcal", "fluxcal_err") + PER_SN, np.float64)
        dtypes.update(band=np.int32, mask=bool, line=np.int64)
        for name, dtype in dtypes.items():
            value = getattr(self, name)
            if value is None:
                continue
            value = np.array(value, dtype=dtype, copy=True)
            value.setflags(write=False)
            object.__setattr__(self, name, value)
        if self.n_sn and self.mask.any() and self.band[self.mask].max() >= len(self.band_names):
            raise DataError("band index beyond band_names", field="band")

    # ----------------------------------------------------------------- basic access
    @property
    def n_sn(self) -> int:
        """Number of supernovae."""
        return self.mjd.shape[0]

    @property
    def n_obs(self) -> int:
        """Padded number of observations per supernova (the longest light curve)."""
        return self.mjd.shape[1]

    def __len__(self) -> int:
        return self.n_sn

    def __iter__(self) -> Iterator[LightCurve]:
        return (self.light_curve(i) for i in range(self.n_sn))

    def __repr__(self) -> str:
        return (
            f"Survey(n_sn={self.n_sn}, n_obs={self.n_obs}, bands={self.band_names}, "
            f"drops={len(self.drops)})"
        )

    def index(self, snid: str) -> int:
        """Position of the supernova called ``snid``."""
        try:
            return self.snid.index(str(snid))
        except ValueError:
            raise ConfigError(f"no supernova {snid!r} in this survey", field="snid") from None

    def light_curve(self, snid: str | int | np.integer) -> LightCurve:
        """The unpadded light curve of one supernova (by name or position). It carries
        the survey's per-SN values (``LightCurve.values``: redshifts, peak date, MW
        E(B−V), host mass, survey name), so :meth:`from_light_curves` rebuilds the same
        survey whatever its header says (the survey's drops and notes travel with
        :meth:`concat`, not with light curves)."""
        i = snid if isinstance(snid, int | np.integer) else self.index(snid)
        m = self.mask[i]
        return LightCurve(
            snid=self.snid[i],
            mjd=self.mjd[i, m].copy(),
            band=np.asarray(self.band_names, dtype=str)[self.band[i, m]]
            if self.band_names
            else np.zeros(0, dtype=str),
            fluxcal=self.fluxcal[i, m].copy(),
            fluxcal_err=self.fluxcal_err[i, m].copy(),
            meta=dict(self.meta[i]),
            source=self.sources[i],
            line=None if self.line is None or not self.line[i, m].any() else self.line[i, m].copy(),
            values={name: float(getattr(self, name)[i]) for name in PER_SN}
            | {"survey": self.survey_name[i]},
        )

    def phase(self) -> Float[np.ndarray, "n_sn n_obs"]:
        """Rest-frame phase ``(mjd - peak_mjd) / (1 + z_hel)`` in days (0 on padding)."""
        t = (self.mjd - self.peak_mjd[:, None]) / (1.0 + self.z_hel[:, None])
        return np.where(self.mask, t, 0.0)

    def band_filters(self, filters: Any) -> dict:
        """The filter of each of ``band_names`` from the FilterBank ``filters``.

        Raises:
            ModelError: a band the bank does not know, naming it, the first SN observed
                in it and that SN's file (the bank's own message says what it knows).
        """
        out = {}
        for b, name in enumerate(self.band_names):
            if name not in filters:
                users = np.flatnonzero((self.mask & (self.band == b)).any(axis=1))
                i = int(users[0]) if users.size else None
                try:
                    filters[name]
                except ModelError as exc:
                    if i is None:
                        raise
                    n_sn = f"{users.size} SN" + ("e" if users.size > 1 else "")
                    raise ModelError(
                        f"band {name!r}, first observed by SN {self.snid[i]!r} ({n_sn} in "
                        f"all), is not a filter sndust knows: {exc.message}",
                        file=self.sources[i] or None,
                        field="band",
                    ) from None
            out[name] = filters[name]
        return out

    # ----------------------------------------------------------------- subsets
    def select(self, indices_or_snids: Any) -> Survey:
        """The supernovae given by position, name, or a boolean mask over SNe, in that order.

        Earlier drops are kept; nothing is added to them (a selection is not a cut).
        """
        sel = indices_or_snids
        if isinstance(sel, str | int | np.integer):
            sel = [sel]
        sel = np.asarray(sel)
        if sel.dtype == bool:
            if sel.shape != (self.n_sn,):
                raise ConfigError(
                    f"boolean selection must have shape ({self.n_sn},), got {sel.shape}",
                    field="indices_or_snids",
                )
            idx = np.flatnonzero(sel)
        elif sel.dtype.kind in "US":
            idx = np.asarray([self.index(s) for s in sel.tolist()], dtype=np.int64)
        elif sel.dtype.kind in "iu" or sel.size == 0:
            idx = sel.astype(np.int64).ravel()
            if idx.size and (idx.min() < -self.n_sn or idx.max() >= self.n_sn):
                raise ConfigError(
                    f"index out of range for {self.n_sn} supernovae", field="indices_or_snids"
                )
            idx = idx % max(self.n_sn, 1)
        else:
            raise ConfigError(
                f"expected SN indices, SNIDs or a boolean mask, got {sel.dtype} values",
                field="indices_or_snids",
            )
        return self._subset(idx, self.mask, ())

    def cut(
        self,
        *,
        z_min: Any = None,
        z_max: Any = None,
        z_key: str = "z_cmb",
        phase_window: Any = None,
        min_obs: Any = None,
        bands: Any = None,
        snids: Any = None,
        exclude: Any = None,
        require: Any = None,
    ) -> Survey:
        """A new survey without the supernovae and observations that fail the cuts.

        Every removed SN, band or observation is added to ``drops`` with its reason.

        Args:
            z_min, z_max: keep ``z_min < z < z_max`` (strict), ``z`` = ``z_key``
                (``"z_cmb"`` or ``"z_hel"``).
            phase_window: ``(lo, hi)``: keep observations with rest-frame phase
                ``lo < t < hi`` days (strict, as BayeSN cuts to its model's phase
                range, e.g. (-10, 40) for T21).
            min_obs: drop supernovae left with fewer observations (those left with none
                are always dropped).
            bands: keep only these bands (sndust filter names).
            snids: keep only these supernovae; exclude: drop these.
            require: per-SN fields (e.g. ``["log_mass"]``) that must be known: SNe
                where one is NaN are dropped, with that reason (a mapping gives each
                field's reason: ``{"log_mass": "MassSplit needs host masses"}``).
        """
        keep_sn, keep_obs, drops = plan_cut(
            self,
            z_min=z_min,
            z_max=z_max,
            z_key=z_key,
            phase_window=phase_window,
            min_obs=min_obs,
            bands=bands,
            snids=snids,
            exclude=exclude,
            require=require,
        )
        return self._subset(np.flatnonzero(keep_sn), keep_obs, tuple(drops))

    def _subset(self, idx: np.ndarray, keep_obs: np.ndarray, new_drops: tuple) -> Survey:
        """SNe ``idx`` with only observations ``keep_obs``, re-padded and re-indexed."""
        kept = keep_obs[idx]
        order = np.argsort(~kept, axis=1, kind="stable")
        n_obs = int(kept.sum(axis=1).max()) if idx.size else 0

        def take(a: np.ndarray) -> np.ndarray:
            return np.take_along_axis(a[idx], order, axis=1)[:, :n_obs]

        mask = take(keep_obs)
        used = np.unique(take(self.band)[mask])
        band_names = tuple(self.band_names[b] for b in used)
        remap = np.zeros(max(len(self.band_names), 1), dtype=np.int32)
        remap[used] = np.arange(len(used), dtype=np.int32)
        return Survey(
            snid=tuple(self.snid[i] for i in idx),
            mjd=np.where(mask, take(self.mjd), 0.0),
            fluxcal=np.where(mask, take(self.fluxcal), 0.0),
            fluxcal_err=np.where(mask, take(self.fluxcal_err), 1.0),
            band=np.where(mask, remap[take(self.band)], 0).astype(np.int32),
            band_names=band_names,
            mask=mask,
            **{name: getattr(self, name)[idx] for name in PER_SN},
            survey_name=tuple(self.survey_name[i] for i in idx),
            meta=tuple(dict(self.meta[i]) for i in idx),
            sources=tuple(self.sources[i] for i in idx),
            drops=self.drops + new_drops,
            notes=self.notes,
            line=None if self.line is None else np.where(mask, take(self.line), 0),
        )

    @classmethod
    def concat(cls, *surveys: Survey, names: Sequence[str] | None = None) -> Survey:
        """One survey holding the SNe of ``surveys``, in order, with everything each
        holds: its arrays and per-SN values as they are (peak dates set by
        :meth:`with_peaks`, cuts, masses), each SN's survey name, header fields and
        sources, and every survey's drops and notes.

        Args:
            surveys: the surveys (at least one).
            names: a survey name for each of ``surveys``, given to all its SNe and its
                drops (:meth:`report` counts drops per survey) and prefixed to its
                notes; default: each SN keeps its ``survey_name``.

        Bands are united in order of first appearance; observations are padded to the
        longest light curve. Populations see each SN's survey as ``host.survey``.

        Raises:
            DataError: one SNID in two of the surveys (both named): result tables name
                SNe by their SNID, so it must stay unique.
            ConfigError: no surveys, something that is not a Survey, or ``names`` of
                the wrong length or with an empty name.
        """
        if not surveys:
            raise ConfigError("expected at least one survey", field="surveys")
        for k, survey in enumerate(surveys):
            if not isinstance(survey, Survey):
                raise ConfigError(
                    f"expected Survey objects, got {type(survey).__name__} at position {k}",
                    field="surveys",
                )
        if names is not None:
            names = [str(n) for n in names]
            if len(names) != len(surveys) or not all(n.strip() for n in names):
                raise ConfigError(
                    f"expected {len(surveys)} non-empty survey names, got {names!r}",
                    field="names",
                )
        label = (lambda k: names[k]) if names else (lambda k: f"survey {k + 1}")
        owner: dict[str, int] = {}
        for k, survey in enumerate(surveys):
            for snid in survey.snid:
                j = owner.setdefault(snid, k)
                if j != k:
                    raise DataError(
                        f"SNID {snid!r} is in {label(j)} and in {label(k)}; SNIDs must be "
                        "unique across the surveys combined (leave one out with cut("
                        "exclude=...), or rename one)",
                        field="snid",
                    )
        band_names = tuple(dict.fromkeys(b for s in surveys for b in s.band_names))
        n_obs = max(s.n_obs for s in surveys)

        def padded(s: Survey, name: str, fill) -> np.ndarray:
            a = getattr(s, name)
            if name == "band":
                remap = np.asarray([band_names.index(b) for b in s.band_names] or [0], np.int32)
                a = np.where(s.mask, remap[a], 0)
            if name == "line" and a is None:
                a = np.zeros(s.mjd.shape, np.int64)
            return np.pad(a, ((0, 0), (0, n_obs - s.n_obs)), constant_values=fill)

        per_obs = {"mjd": 0.0, "fluxcal": 0.0, "fluxcal_err": 1.0, "band": 0, "mask": False}
        per_obs["line"] = 0
        arrays = {
            name: np.concatenate([padded(s, name, fill) for s in surveys])
            for name, fill in per_obs.items()
        }
        survey_name = tuple(
            name
            for k, s in enumerate(surveys)
            for name in ((names[k],) * s.n_sn if names else s.survey_name)
        )
        notes = tuple(
            f"{names[k]}: {note}" if names else note
            for k, s in enumerate(surveys)
            for note in s.notes
        )
        return cls(
            snid=tuple(snid for s in surveys for snid in s.snid),
            band_names=band_names,
            **arrays,
            **{name: np.concatenate([getattr(s, name) for s in surveys]) for name in PER_SN},
            survey_name=survey_name,
            meta=tuple(dict(m) for s in surveys for m in s.meta),
            sources=tuple(src for s in surveys for src in s.sources),
            drops=tuple(
                replace(d, survey=names[k]) if names else d
                for k, s in enumerate(surveys)
                for d in s.drops
            ),
            notes=notes,
        )

    def with_peaks(
        self, table: Any, column: str = "PKMJD", *, id_column: str | None = None
    ) -> Survey:
        """A copy whose peak dates come from ``table`` (e.g. SALT2 fits: the ``PKMJD`` of
        a FITRES file), matched by SN name.

        Args:
            table: a FITRES file path, or an astropy table / mapping of columns.
            column: the peak-date column.
            id_column: the SN-name column (default: ``CID``, else ``SNID``).

        Raises:
            DataError: a missing column, a non-finite date, or an SN of this survey
                absent from the table (naming the file and the SN).
        """
        from .._fitres import read_fitres

        source = None
        if isinstance(table, str | Path):
            source = str(table)
            table = read_fitres(table)
        names = list(table.keys()) if isinstance(table, dict) else list(table.colnames)
        id_column = id_column or next((c for c in ("CID", "SNID") if c in names), None)
        for wanted, what in ((id_column, "SN-name (CID or SNID)"), (column, "peak-date")):
            if wanted is None or wanted not in names:
                raise DataError(
                    f"no {what} column {wanted or ''} (columns: {', '.join(names)})",
                    file=source,
                    field=wanted,
                )
        peaks = dict(zip((snid_key(c) for c in table[id_column]), np.asarray(table[column], float)))
        missing = [s for s in self.snid if snid_key(s) not in peaks]
        if missing:
            raise DataError(
                f"{len(missing)} SNe of the survey are not in the table: "
                + ", ".join(missing[:10])
                + (" ..." if len(missing) > 10 else ""),
                file=source,
                field=id_column,
            )
        values = np.array([peaks[snid_key(s)] for s in self.snid])
        bad = ~np.isfinite(values)
        if bad.any():
            raise DataError(
                f"SN {self.snid[int(np.argmax(bad))]}: peak date {values[bad][0]!r} is not finite",
                file=source,
                field=column,
            )
        note = f"peak dates from {column} of {source or 'a table'} for all {self.n_sn} SNe"
        return replace(self, peak_mjd=values, notes=self.notes + (note,))

    def with_metadata(
        self,
        table: Any,
        *,
        id_column: str | None = None,
        match: Any = None,
        columns: Any = None,
        mass_sentinels: Any = (),
        require_all: bool = False,
    ) -> Survey:
        """A copy whose redshifts, peak dates, host masses and MW E(B−V) come from
        ``table`` where it has them, matched by SNID (leading zeros of numeric SNIDs
        ignored), e.g. the Pantheon+ release's table for one of its surveys.

        Args:
            table: a FITRES, CSV or whitespace table file (plain or gzip), an astropy
                table, or a mapping of columns.
            id_column: the SN-name column (default: CID, else SNID).
            match: only rows whose columns equal these values, e.g. ``{"IDSURVEY":
                150}`` for one survey of a compilation.
            columns: survey field -> column (fields: ``z_cmb``, ``z_hel``,
                ``peak_mjd``, ``log_mass``, ``mwebv``); default every field whose usual
                column is present (zHD/zCMB, zHEL, PKMJD, HOST_LOGMASS, MWEBV, ...).
            mass_sentinels: host-mass values that mean "unknown" in this table (e.g.
                6.0), besides those outside [6, 13] (≤ 0, −9, −99, 99), which always
                do; such masses become NaN, listed in the notes: kept for populations
                that do not use masses, dropped with that reason by ``cut(require=
                ["log_mass"])`` (``sndust fit`` does this for populations that need
                them).
            require_all: an SN of the survey missing from the table is an error
                (default: it keeps its files' values and is listed in the notes).

        Raises:
            DataError: no name column, a missing column, two rows of one SN that
                disagree, a non-finite value, or (``require_all``) unmatched SNe,
                naming the table and column.
        """
        from ._metadata import with_metadata

        return with_metadata(
            self,
            table,
            id_column=id_column,
            match=match,
            columns=columns,
            mass_sentinels=tuple(mass_sentinels or ()),
            require_all=require_all,
        )

    # ----------------------------------------------------------------- writing
    def to_snana(
        self,
        folder: Any,
        *,
        bands: Any = None,
        list_name: str | None = None,
        overwrite: bool = False,
    ) -> list[Path]:
        """Write each supernova as an SNANA text file (``<SNID>.txt``) plus a ``.LIST``
        file in ``folder``; ``Survey.from_snana(folder, bands="auto")`` reads back the
        same arrays.

        ``bands`` maps sndust filter names to the names written (e.g. ``{"g_PS1": "g"}``;
        read back with the inverse map); unmapped names are written as they are.
        Existing files are an error unless ``overwrite``. Returns the light-curve files
        written.
        """
        from ._snana_write import write_snana_text

        return write_snana_text(self, folder, bands=bands, list_name=list_name, overwrite=overwrite)

    # ----------------------------------------------------------------- reporting
    def report(self) -> str:
        """Human-readable summary: counts, then one line per dropped SN, band or point."""
        n_points = int(self.mask.sum())
        lines = [
            f"Survey: {self.n_sn} SNe, {n_points} observations in {len(self.band_names)} "
            f"bands ({', '.join(self.band_names)}); padded to n_obs = {self.n_obs}"
        ]
        if self.drops:
            lines.append(f"Dropped: {_drop_counts(self.drops)}")
            surveys = dict.fromkeys(d.survey for d in self.drops if d.survey is not None)
            for name in surveys:  # a combined survey's drops, counted per survey
                mine = [d for d in self.drops if d.survey == name]
                lines.append(f"  {name}: {_drop_counts(mine)}")
            lines += [f"  {d}" for d in self.drops]
        else:
            lines.append("Dropped: nothing")
        if self.notes:
            lines.append(f"Notes ({len(self.notes)}):")
            lines += [f"  {note}" for note in self.notes]
        return "\n".join(lines)

    # ----------------------------------------------------------------- constructors
    @classmethod
    def from_light_curves(
        cls,
        curves: Sequence[LightCurve],
        *,
        peak_mjd_key: str = "SEARCH_PEAKMJD",
        z_err_floor: Any = None,
        drops: Sequence[Drop] = (),
    ) -> Survey:
        """Pack light curves into a survey, deriving redshifts etc. from their headers
        (see :func:`header_scalars`). SNIDs must be unique.

        An observation repeated exactly within an SN (same MJD, band, flux and error) is
        dropped, keeping the first, and recorded in ``drops``; the same MJD and band
        with a different flux or error is a DataError naming both lines.
        """
        kept, repeats = [], list(drops)
        for lc in curves:
            repeats += lc.drops
            lc, dropped = drop_repeated_rows(lc)
            kept.append(lc)
            repeats += dropped
        return cls(**pack_light_curves(kept, peak_mjd_key, z_err_floor), drops=tuple(repeats))

    @classmethod
    def from_snana(
        cls,
        path: Any,
        bands: Any = None,
        *,
        peak_mjd_key: str = "SEARCH_PEAKMJD",
        z_err_floor: Any = None,
        ignore_file: Any = True,
        missing: str = "raise",
        pattern: str | None = None,
        reject_photflag: Any = None,
    ) -> Survey:
        """Read SNANA light curves.

        Args:
            path: an SNANA text file, a FITS ``_HEAD.FITS(.gz)`` (or ``_PHOT``) file, a
                ``.LIST`` file, a data directory holding ``<dir>.LIST``, a glob of files,
                or a list of these.
            pattern: a glob of light-curve files inside each directory of ``path``
                (read instead of its ``.LIST``), e.g. ``"Foundation_DR1_*.txt"``.
            bands: mapping from band names in the files to sndust filter names, e.g.
                ``{"g": "g_PS1", ...}``, naming every band of the files; or ``"auto"``
                to use the names in the files as sndust filter names (files written by
                :meth:`to_snana`). The default, ``None``, refuses any band: a band is
                never given a filter by chance.
            peak_mjd_key: header key of the peak date (falls back to ``PEAKMJD``).
            z_err_floor: lower bound applied to ``z_err``.
            ignore_file: honour ``<list>.IGNORE`` beside a ``.LIST`` (True), none
                (False), or a path to an ignore file; its SNIDs (or listed file names)
                are left out and recorded in ``drops``.
            missing: a ``.LIST`` entry whose file does not exist raises (``"raise"``)
                or is recorded in ``drops`` and skipped (``"drop"``).
            reject_photflag: leave out observations whose ``PHOTFLAG`` shares a bit with
                this mask (SNANA's ``PHOTFLAG_MSKREJ``), each recorded in ``drops``.

        Files are read as SNANA reads them: the ``VARLIST`` governs the columns (an
        ``NVAR`` that disagrees is noted in :meth:`report` when every row follows the
        ``VARLIST``), ``FLT`` or ``BAND`` names the band column, other columns are
        ignored, header values may carry units or ``+-`` errors, and SNIDs of digits
        match the ignore list without their leading zeros.

        Text files may be gzip-compressed (whatever their name). A header key given
        twice must have the same value; SNIDs must be one printable word without ``#``
        (result tables name SNs by them); an exactly repeated observation is dropped and
        recorded, a contradicting one (same MJD and band) is an error; a host mass
        outside [6, 13] is read as unknown, with a note (see :meth:`report`).

        Raises:
            DataError: a malformed file or value, naming the file, line and field.
            ConfigError: a malformed argument.
        """
        band_map = check_band_map(bands)
        reject_photflag = _check_mask(reject_photflag)
        listing = collect(path, ignore_file=ignore_file, missing=missing, pattern=pattern)
        ignored = {snid_key(name): where for name, where in listing.ignore.items()}
        drops = list(listing.drops)
        curves: list[LightCurve] = []
        for entry in listing.entries:
            ignored_by = listing.ignore.get(entry.path.name)
            if ignored_by is not None:
                drops.append(
                    Drop(entry.path.name, None, None, f"listed in {ignored_by}", str(entry.path))
                )
                continue
            if entry.kind == "fits":
                read = read_snana_fits(entry.path, band_map, reject_photflag=reject_photflag)
            else:
                read = [read_snana_text(entry.path, band_map, reject_photflag=reject_photflag)]
            for lc in read:
                ignored_by = ignored.get(snid_key(lc.snid))
                if ignored_by is None:
                    curves.append(lc)
                else:
                    drops.append(Drop(lc.snid, None, None, f"listed in {ignored_by}", lc.source))
        if not curves:
            raise DataError(
                "no light curves to read",
                file=str(path) if not isinstance(path, list | tuple) else None,
            )
        return cls.from_light_curves(
            curves, peak_mjd_key=peak_mjd_key, z_err_floor=z_err_floor, drops=drops
        )

    @classmethod
    def from_bayesn_table(
        cls, table_path: str | Path, data_root: str | Path | None = None, bands: Any = None
    ) -> Survey:
        """Read a BayeSN data table (``SNID SEARCH_PEAKMJD REDSHIFT_CMB REDSHIFT_CMB_ERR
        files``; the files are SNANA text files relative to ``data_root``, default the
        table's directory). The table's peak date and CMB redshift override the files'.
        ``bands`` and the checks are as in :meth:`from_snana`."""
        curves = read_bayesn_table(table_path, data_root, check_band_map(bands))
        if not curves:
            raise DataError("data table has no rows", file=str(table_path))
        return cls.from_light_curves(curves)

    @classmethod
    def from_tables(
        cls, tables: Any, bands: Any = None, *, peak_mjd_key: str = "SEARCH_PEAKMJD"
    ) -> Survey:
        """Build a survey from astropy/sncosmo photometric tables, one per supernova.

        See :func:`sndust._survey._tables.light_curve_from_table` for the columns and
        ``table.meta`` keys understood. ``bands`` maps the band column's names to sndust
        filter names (``"auto"``: they are sndust filter names), as in :meth:`from_snana`.
        """
        from astropy.table import Table

        band_map = check_band_map(bands)
        if isinstance(tables, Table):
            tables = [tables]
        if not isinstance(tables, Sequence) or not tables:
            raise ConfigError(
                "expected an astropy Table or a non-empty sequence of them", field="tables"
            )
        curves = [light_curve_from_table(t, i, band_map) for i, t in enumerate(tables)]
        return cls.from_light_curves(curves, peak_mjd_key=peak_mjd_key)

    @classmethod
    def from_arrays(
        cls,
        snid: Sequence[Any],
        mjd: Sequence[Any],
        band: Sequence[Any],
        fluxcal: Sequence[Any],
        fluxcal_err: Sequence[Any],
        *,
        z_hel: Any,
        peak_mjd: Any,
        z_cmb: Any = None,
        z_err: Any = None,
        mwebv: Any = 0.0,
        log_mass: Any = float("nan"),
        survey: Any = "",
    ) -> Survey:
        """Build a survey from per-SN (ragged) arrays, as simulators produce them.

        ``snid`` has one name per SN; ``mjd``, ``band``, ``fluxcal``, ``fluxcal_err`` one
        array per SN. ``z_hel`` and ``peak_mjd`` are per SN; ``z_cmb`` (default
        ``z_hel``), ``z_err`` (default 0), ``mwebv``, ``log_mass`` and ``survey`` are per
        SN or one value for all.
        """
        from ._arrays import light_curves_from_arrays

        curves = light_curves_from_arrays(
            snid,
            mjd,
            band,
            fluxcal,
            fluxcal_err,
            z_hel=z_hel,
            peak_mjd=peak_mjd,
            z_cmb=z_cmb,
            z_err=z_err,
            mwebv=mwebv,
            log_mass=log_mass,
            survey=survey,
        )
        return cls.from_light_curves(curves)


def _check_mask(mask: Any) -> int | None:
    """``reject_photflag``: None or a whole number ≥ 0 (a bit mask)."""
    if mask is None:
        return None
    if isinstance(mask, bool) or not isinstance(mask, int | np.integer) or mask < 0:
        raise ConfigError(
            f"expected a bit mask (a whole number >= 0), got {mask!r}", field="reject_photflag"
        )
    return int(mask)


def _drop_counts(drops) -> str:
    """``"N SNe, M SN bands, K observations"`` of a list of drops."""
    n_sn = sum(d.band is None and d.mjd is None for d in drops)
    n_band = sum(d.band is not None and d.mjd is None for d in drops)
    n_point = sum(d.mjd is not None for d in drops)
    return f"{n_sn} SNe, {n_band} SN bands, {n_point} observations"
