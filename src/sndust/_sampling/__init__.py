from ._posterior import Posterior as Posterior
from ._samplers import MCLMC as MCLMC
from ._samplers import NUTS as NUTS
from ._samplers import AbstractSampler as AbstractSampler
from ._samplers import AdjustedMCLMC as AdjustedMCLMC
