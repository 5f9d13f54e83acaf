from ._adjusted_mclmc import AdjustedMCLMC as AdjustedMCLMC
from ._base import AbstractSampler as AbstractSampler
from ._base import Carry as Carry
from ._base import Control as Control
from ._base import Stage as Stage
from ._mclmc import MCLMC as MCLMC
from ._nuts import NUTS as NUTS
from ._posterior import Posterior as Posterior
