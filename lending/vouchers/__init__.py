"""Data vouchers: codes for a network's data top-up, held as stock and given (never lent)."""
