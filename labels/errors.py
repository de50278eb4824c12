class LabelError(ValueError):
    """A label request that cannot be printed as asked; the message says what to change."""
