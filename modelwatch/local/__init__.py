"""The local runtime: the stack of processes ``modelwatch up`` runs on one machine."""
