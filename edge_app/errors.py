"""Domain errors of the daemon. The CLI, Flask handlers and service entry point translate them."""


class EdgeError(Exception):
    """Base of every error raised by `edge_app`."""


class ConfigError(EdgeError):
    """The settings file or an EDGE_* variable is invalid."""


class LibraryError(EdgeError):
    """The SQLite photo library cannot be opened or written."""


class SchemaTooNewError(LibraryError):
    """The database was written by a newer version of edge-photo-search."""


class VectorIndexError(EdgeError):
    """The FAISS index cannot be used (and could not be rebuilt)."""


class ImageDecodeError(EdgeError):
    """A file is not a usable image; the message is the human-readable reason."""


class PathOutsideLibraryError(EdgeError):
    """A path points outside the library root (directly or through a link)."""


class QueryError(EdgeError):
    """A search query cannot be parsed or refers to something that does not exist."""


class NotFoundError(EdgeError):
    """A photo (or other object) addressed by id does not exist."""


class ImportSessionError(EdgeError):
    """A USB/folder import failed; the session records why and can be resumed."""


class LabelError(EdgeError):
    """A label or label set definition is invalid (empty name, too many labels, ...)."""


class LabelConflictError(LabelError):
    """A label set or label with that name already exists, or changed while tagging ran."""


class PackError(EdgeError):
    """A library pack cannot be imported (checksum, bundle, root mapping, damaged file)."""


class FacesError(EdgeError):
    """A People (faces) request cannot be done: disabled, unknown person, name taken..."""


class FacesDisabledError(FacesError):
    """People is turned off (``faces_enabled``): nothing about faces is stored or shown."""


class PeopleHiddenError(FacesError):
    """A guest asked for People, which the admin has not shared with guests."""
