"""Dust laws: host-galaxy extinction curves and Milky Way transmission."""

from ._base import AbstractDustLaw as AbstractDustLaw
from ._calzetti00 import Calzetti00 as Calzetti00
from ._ccm import CCM89 as CCM89
from ._ccm import ODonnell94 as ODonnell94
from ._fitzpatrick19 import Fitzpatrick19 as Fitzpatrick19
from ._fitzpatrick99 import Fitzpatrick99 as Fitzpatrick99
from ._fixed_curves import FitzpatrickMassa07 as FitzpatrickMassa07
from ._fixed_curves import Gordon03SMCBar as Gordon03SMCBar
from ._gordon23 import Gordon23 as Gordon23
from ._milky_way import milky_way_R_V as milky_way_R_V
from ._milky_way import milky_way_transmission as milky_way_transmission
