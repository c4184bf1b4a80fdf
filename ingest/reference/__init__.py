"""What the archive knows before it sees a photo: the gazetteer of cities and their time zones, and
the Creative Commons licences (SPDX ids, permissions, the parser for licence text)."""
