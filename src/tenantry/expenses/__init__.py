"""Expenses: costs staff record and get approved or reimbursed."""
