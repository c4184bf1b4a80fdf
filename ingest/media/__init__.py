"""Bytes on disk: decoding and derivatives, the content-addressed store, its fixity check, and the
writers of metadata blocks (XMP, EXIF, JPEG segments) for copies that leave the archive."""
