"""Writers of the metadata blocks that copies leaving the archive carry: XMP packets, EXIF, and
JPEG files whose metadata segments are replaced without re-encoding the picture."""
