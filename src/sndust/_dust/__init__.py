"""Dust laws: host-galaxy extinction curves and Milky Way transmission."""

from ._base import AbstractDustLaw as AbstractDustLaw
from ._ccm import CCM89 as CCM89
from ._ccm import ODonnell94 as ODonnell94
from ._fitzpatrick99 import Fitzpatrick99 as Fitzpatrick99
from ._milky_way import milky_way_transmission as milky_way_transmission
