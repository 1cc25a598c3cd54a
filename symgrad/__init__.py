"""symgrad: exact derivatives of math, compiled to standalone numpy modules."""

__version__ = "0.1.0"
