"""mofgen: database-centric generative discovery of MOFs and crystals."""

__version__ = "0.1.0"
