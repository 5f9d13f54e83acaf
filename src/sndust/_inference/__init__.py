from ._laplace import Laplace as Laplace
from ._laplace import laplace as laplace
from ._map import MAP as MAP
from ._map import MAPResult as MAPResult
