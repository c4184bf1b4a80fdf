"""Getting photos in: scan folders, read each file once (worker processes), resolve its tags, and
hand the result to the catalogue. `retag` re-resolves from stored facts without re-reading files."""
