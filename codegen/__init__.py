"""symgrad's code generator: graph -> straight-line numpy module text."""
