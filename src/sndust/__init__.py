"""sndust: hierarchical Bayesian inference of SN Ia light curves and host-galaxy dust.

BayeSN (Mandel+22, Thorp+21, Grayling+24) as composable JAX/Equinox parts::

    import sndust as sd

    sed = sd.BayeSNModel.load("T21")
    survey = sd.Survey.from_snana("foundation_dr1", bands={b: f"{b}_PS1" for b in "griz"})
    prepared = sd.prepare(survey, sed, sd.Fitzpatrick99())
    flux = prepared.fluxcal(theta=..., A_V=..., R_V=..., e=..., distmod=...)

Precision is never changed on import: call ``jax.config.update("jax_enable_x64", True)``
(or :func:`sndust.enable_x64`) for float64, BayeSN's precision.
"""

from ._app import load_config as load_config
from ._app import run_fit as run_fit
from ._app import run_simulate as run_simulate
from ._compare import Comparison as Comparison
from ._compare import compare as compare
from ._dust import CCM89 as CCM89
from ._dust import AbstractDustLaw as AbstractDustLaw
from ._dust import Calzetti00 as Calzetti00
from ._dust import Fitzpatrick19 as Fitzpatrick19
from ._dust import Fitzpatrick99 as Fitzpatrick99
from ._dust import FitzpatrickMassa07 as FitzpatrickMassa07
from ._dust import Gordon03SMCBar as Gordon03SMCBar
from ._dust import Gordon23 as Gordon23
from ._dust import ODonnell94 as ODonnell94
from ._dust import milky_way_transmission as milky_way_transmission
from ._errors import ConfigError as ConfigError
from ._errors import DataError as DataError
from ._errors import ModelError as ModelError
from ._errors import SndustError as SndustError
from ._filters import Filter as Filter
from ._filters import FilterBank as FilterBank
from ._fitres import read_fitres as read_fitres
from ._fitres import write_fitres as write_fitres
from ._forward import PreparedSurvey as PreparedSurvey
from ._forward import prepare as prepare
from ._inference import MAP as MAP
from ._inference import Laplace as Laplace
from ._inference import MAPResult as MAPResult
from ._inference import laplace as laplace
from ._marginal import SNMarginals as SNMarginals
from ._marginal import sn_marginal_likelihoods as sn_marginal_likelihoods
from ._model import HierarchicalModel as HierarchicalModel
from ._population import AbstractDustPopulation as AbstractDustPopulation
from ._population import DustPopulation as DustPopulation
from ._population import DustPriors as DustPriors
from ._population import FixedPopulation as FixedPopulation
from ._population import HostData as HostData
from ._population import MassSplit as MassSplit
from ._population import MassSplitSED as MassSplitSED
from ._population import RedshiftLinear as RedshiftLinear
from ._population import SinglePopulation as SinglePopulation
from ._population import TruncatedNormal as TruncatedNormal
from ._precision import enable_x64 as enable_x64
from ._sampling import MCLMC as MCLMC
from ._sampling import NUTS as NUTS
from ._sampling import AbstractSampler as AbstractSampler
from ._sampling import AdjustedMCLMC as AdjustedMCLMC
from ._sampling import Carry as Carry
from ._sampling import Control as Control
from ._sampling import Posterior as Posterior
from ._sampling import Stage as Stage
from ._sed import BayeSNModel as BayeSNModel
from ._sed._bayesn import builtin_models as builtin_models
from ._simulate import SurveyDesign as SurveyDesign
from ._simulate import simulate_survey as simulate_survey
from ._simulate import simulate_surveys as simulate_surveys
from ._sncosmo import bandpass as bandpass
from ._survey import Drop as Drop
from ._survey import LightCurve as LightCurve
from ._survey import Survey as Survey
from ._version import __version__ as __version__


def __getattr__(name):
    if name == "BayeSNSource":  # an sncosmo.Source subclass: built when first asked for
        from . import _sncosmo

        return _sncosmo.BayeSNSource
    raise AttributeError(f"module 'sndust' has no attribute {name!r}")
