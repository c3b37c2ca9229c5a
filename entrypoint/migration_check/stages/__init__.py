"""The stages of a check. Each reads the shared run state and returns findings."""
