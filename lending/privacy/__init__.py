"""Personal data over time: retention (pseudonymisation) and subject-access exports."""
