"""The project's own exceptions: domain code raises these, the CLI turns them into one clear line."""


class ArchiveError(Exception):
    """Something the user must fix (bad flag, unreadable database, missing path)."""


class FileProblem(ArchiveError):
    """One input file cannot be imported; the batch goes on."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


class MetadataProblem(Exception):
    """A metadata block was unreadable or hostile; the photo is imported without it."""
