from ._base import AbstractSEDModel as AbstractSEDModel
from ._bayesn import BayeSNModel as BayeSNModel
