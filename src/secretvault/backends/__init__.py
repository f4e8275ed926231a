"""Stores: the two role Protocols (``base``), the registry that builds them by ``BackendType``
(``registry``), the pairing into units of work (``stores``), and one module per backend."""
