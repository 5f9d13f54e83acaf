"""Light-curve data: the :class:`Survey` container and its readers (SNANA text and FITS,
BayeSN data tables, astropy/sncosmo tables, in-memory arrays)."""

from ._lightcurve import Drop as Drop
from ._lightcurve import LightCurve as LightCurve
from ._survey import Survey as Survey
