"""Database connection, collections, indexes and maggma stores (installed as mofgen.stores)."""
