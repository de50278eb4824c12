"""Loans: issue, renew, return, lose; the eligibility decisions made when issuing."""
