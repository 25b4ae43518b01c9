"""FireWorks materialisation, local launchers and the daemon (installed as mofgen.launchers)."""
