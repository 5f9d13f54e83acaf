from ._hierarchical import HierarchicalModel as HierarchicalModel
