from ._hierarchical import HierarchicalModel as HierarchicalModel
from ._hierarchical import LogDensity as LogDensity
