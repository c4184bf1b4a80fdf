"""The catalogue (gallery.db): its schema and migrations, settings, the registry, recording what an
import learned, archivists' corrections and accounts, and the public copy built from it."""
