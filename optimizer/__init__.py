"""SMS send optimizer: which lead to text, with which message, at what time, or not at all."""

__version__ = "0.1.0"
