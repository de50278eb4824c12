"""The waitlist: requests for a kind of device that no office shelf holds yet."""
