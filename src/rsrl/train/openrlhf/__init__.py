"""OpenRLHF 0.11.2 integration: the advantage seam, the command line, the reward file and the launcher."""
