"""FireWorks materialisation, worker templates and local launchers (installed as mofgen.launchers)."""
