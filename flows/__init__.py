"""jobflow jobs and Makers, one module per campaign stage (installed as mofgen.flows)."""
