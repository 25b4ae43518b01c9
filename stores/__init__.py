"""Database connection (MongoDB URI or embedded directory), collections, indexes and maggma stores (installed as mofgen.stores)."""
