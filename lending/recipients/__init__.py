"""Recipients: the people devices are lent to. Not user accounts; they never log in."""
