"""The application layer: configurations (schema and validation), the registry of names
(``name`` or ``module:Class`` → class), fit and simulate runs, their reports, and the
``sndust`` command. The only layer that imports ``sndust`` as a package."""

from ._config import load_config as load_config
from ._runs import run_fit as run_fit
from ._runs import run_simulate as run_simulate
